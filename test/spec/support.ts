// What the spec tests share: a valid spec value to vary, and the SpecError a call throws.
import { SpecError, type PipelineSpecInput } from '../../src/spec';

/** A valid spec value (prebuilt image, s3 data, two metrics) to vary in one place per test. */
export function baseSpec(): PipelineSpecInput {
  return {
    name: 'claims-severity',
    image: { uri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/pricing/claims-severity:1.4.0' },
    training: {
      inputs: [{ name: 'train', uri: 's3://champ-data/train/' }],
      outputPath: 's3://champ-models/claims-severity/',
      metrics: [
        { name: 'validation:deviance', regex: 'validation:deviance=([0-9.eE+-]+)' },
        { name: 'validation:gini', regex: 'validation:gini=([0-9.eE+-]+)' },
      ],
    },
    deployment: { endpointName: 'claims-severity' },
  };
}

/** The SpecError `fn` throws; fails the test when it throws nothing or something else. */
export function specError(fn: () => unknown): SpecError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SpecError) return err;
    throw err;
  }
  throw new Error('expected a SpecError, but nothing was thrown');
}
