// Turning documents into validated specs. Pure (no file system), so the worker
// can validate a spec it received as a value, and the CLI a spec it read.
import { plainDataIssues, readJson, readYaml } from './document';
import { SpecError, fromZodIssues } from './errors';
import { PipelineSpecSchema, type PipelineSpec } from './schema';

export type SpecFormat = 'yaml' | 'json';

export type SafeParseSpecResult = { ok: true; spec: PipelineSpec } | { ok: false; error: SpecError };

/**
 * Validates a spec value (plain data, schema and cross-field rules) and applies
 * defaults. Throws SpecError, and only SpecError, whatever the value.
 */
export function parseSpec(value: unknown, file?: string): PipelineSpec {
  const shape = plainDataIssues(value);
  if (shape.length > 0) throw new SpecError(shape, file);
  const result = PipelineSpecSchema.safeParse(value);
  if (result.success) return result.data;
  throw new SpecError(fromZodIssues(result.error.issues, value, PipelineSpecSchema), file);
}

/** Like parseSpec, but returns the SpecError instead of throwing it. */
export function safeParseSpec(value: unknown, file?: string): SafeParseSpecResult {
  try {
    return { ok: true, spec: parseSpec(value, file) };
  } catch (err) {
    if (err instanceof SpecError) return { ok: false, error: err };
    throw err;
  }
}

/** Parses spec text (YAML by default; JSON is also valid YAML, but `json` gives JSON's own errors). Throws SpecError. */
export function parseSpecText(text: string, options: { format?: SpecFormat; file?: string } = {}): PipelineSpec {
  return parseSpec(readDocument(text, options), options.file);
}

/**
 * Text to a plain value. Syntax errors, duplicate keys, oversized text and
 * expanding YAML aliases become SpecErrors that give line and column where known.
 */
export function readDocument(text: string, options: { format?: SpecFormat; file?: string } = {}): unknown {
  const read = options.format === 'json' ? readJson(text) : readYaml(text);
  if ('issues' in read) throw new SpecError(read.issues, options.file);
  return read.value;
}
