// Turning documents into validated specs. Pure (no file system), so the worker
// can validate a spec it received as a value, and the CLI a spec it read.
import { parseDocument } from 'yaml';
import { SpecError, fromZodIssues, type SpecIssue } from './errors';
import { PipelineSpecSchema, type PipelineSpec } from './schema';

export type SpecFormat = 'yaml' | 'json';

export type SafeParseSpecResult = { ok: true; spec: PipelineSpec } | { ok: false; error: SpecError };

/** Validates a spec value (schema and cross-field rules) and applies defaults. Throws SpecError. */
export function parseSpec(value: unknown, file?: string): PipelineSpec {
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

/** Text to a plain value, with syntax errors as SpecErrors that give line and column. */
export function readDocument(text: string, options: { format?: SpecFormat; file?: string } = {}): unknown {
  const file = options.file;
  if (options.format === 'json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new SpecError([jsonSyntaxIssue(text, (err as Error).message)], file);
    }
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const problem = doc.errors[0];
  if (problem) {
    const issue: SpecIssue = { path: '', message: `YAML syntax error: ${firstLine(problem.message)}` };
    const pos = problem.linePos?.[0];
    if (pos) {
      issue.line = pos.line;
      issue.column = pos.col;
    }
    throw new SpecError([issue], file);
  }
  return doc.toJS({ maxAliasCount: 100 }) as unknown;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

function jsonSyntaxIssue(text: string, message: string): SpecIssue {
  const issue: SpecIssue = { path: '', message: `JSON syntax error: ${message.replace(/ in JSON at position \d+.*$/, '')}` };
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  const position = /position (\d+)/.exec(message);
  if (lineColumn) {
    issue.line = Number(lineColumn[1]);
    issue.column = Number(lineColumn[2]);
  } else {
    const offset = position ? Number(position[1]) : /end of JSON input/.test(message) ? text.length : undefined;
    if (offset !== undefined) {
      const before = text.slice(0, offset).split('\n');
      issue.line = before.length;
      issue.column = before[before.length - 1]!.length + 1;
    }
  }
  return issue;
}
