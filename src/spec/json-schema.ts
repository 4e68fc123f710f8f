// The published JSON Schema of the spec, generated from the zod schema (input
// side: fields with defaults are optional). Editors use it for completion.
import { z } from 'zod';
import { PipelineSpecSchema } from './schema';

export const PIPELINE_SPEC_SCHEMA_ID = 'urn:champ:schema:pipeline-spec';
/** Where the generated file is committed, relative to the repository root. */
export const PIPELINE_SPEC_SCHEMA_FILE = 'schema/pipeline-spec.schema.json';

export function buildPipelineSpecJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(PipelineSpecSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: PIPELINE_SPEC_SCHEMA_ID,
    title: 'champ pipeline spec',
    description:
      'One model pipeline: image, training, validation gate, approval, deployment and schedule. Cross-field rules (e.g. canaryPercent with a canary strategy, gate metrics defined in training.metrics) are checked by `champ validate`, not by this schema.',
    ...rest,
  };
}

/** The file's exact text: stable key order, two-space indent, final newline. */
export function renderPipelineSpecJsonSchema(): string {
  return `${JSON.stringify(buildPipelineSpecJsonSchema(), null, 2)}\n`;
}
