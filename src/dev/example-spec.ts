// The claims-severity example's spec, pointed at freshly generated local data:
// what `npm run demo` and the pipeline benchmark run.
import { join, resolve } from 'node:path';
import { loadSpecFile } from '../spec';
import type { PipelineSpec } from '../spec/schema';

export const CLAIMS_EXAMPLE = resolve(__dirname, '..', '..', 'examples', 'claims-severity');

/** The example's spec reading `<dataDir>/train` and `<dataDir>/validation`, writing the model under `<artifactsDir>/<name>`. */
export function claimsExampleSpec(dataDir: string, artifactsDir: string): PipelineSpec {
  const { spec } = loadSpecFile(join(CLAIMS_EXAMPLE, 'pipeline.yaml'));
  return {
    ...spec,
    training: {
      ...spec.training,
      inputs: [
        { name: 'train', uri: `file://${join(dataDir, 'train')}`, contentType: 'text/csv' },
        { name: 'validation', uri: `file://${join(dataDir, 'validation')}`, contentType: 'text/csv' },
      ],
      outputPath: `file://${join(artifactsDir, spec.name)}`,
    },
    // Each run draws fresh data, so deviances are not comparable with the
    // champion's: the candidate is judged on the absolute threshold alone.
    gate: { thresholds: spec.gate.thresholds },
    schedule: undefined,
  };
}
