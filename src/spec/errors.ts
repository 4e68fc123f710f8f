// SpecError: every problem of a spec at once, each naming the field to change.
// zod's issues are translated here so that callers (CLI, worker) never see
// zod's wording or shapes.
import { z } from 'zod';
import type { RuleIssueParams } from './rules';

export interface SpecIssue {
  /** Field path such as `deployment.strategy.canaryPercent` or `training.inputs[1].uri`; empty for the document itself. */
  path: string;
  message: string;
  /** Short rendering of the value found. */
  found?: string;
  expected?: string;
  /** 1-based position in the spec file, for syntax errors. */
  line?: number;
  column?: number;
}

export class SpecError extends Error {
  override readonly name = 'SpecError';
  readonly issues: SpecIssue[];
  /** The spec file, when the spec came from one. */
  readonly file?: string;

  constructor(issues: SpecIssue[], file?: string) {
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    super(`invalid pipeline spec${file ? ` ${file}` : ''} (${count}):\n${formatIssues(issues, file)}`);
    this.issues = issues;
    if (file !== undefined) this.file = file;
  }

  /** One line per issue: `path: message (found: ...; expected: ...)`. */
  format(): string {
    return formatIssues(this.issues, this.file);
  }
}

function formatIssues(issues: SpecIssue[], file: string | undefined): string {
  return issues.map((issue) => formatIssue(issue, file)).join('\n');
}

export function formatIssue(issue: SpecIssue, file?: string): string {
  let where = issue.path;
  if (where === '') {
    where = file ?? 'spec';
    if (issue.line !== undefined) where += `:${issue.line}${issue.column !== undefined ? `:${issue.column}` : ''}`;
  }
  const detail = [
    issue.found !== undefined ? `found: ${issue.found}` : undefined,
    issue.expected !== undefined ? `expected: ${issue.expected}` : undefined,
  ].filter((part): part is string => part !== undefined);
  return `${where}: ${issue.message}${detail.length > 0 ? ` (${detail.join('; ')})` : ''}`;
}

type PathKey = PropertyKey;

/** `['training', 'inputs', 1, 'uri']` -> `training.inputs[1].uri`. */
export function formatPath(path: readonly PathKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else {
      const name = String(key);
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) out += out === '' ? name : `.${name}`;
      else out += `[${JSON.stringify(name)}]`;
    }
  }
  return out;
}

/** A short, human rendering of a value for `found:`. */
export function renderValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  if (json !== undefined && json.length <= 60) return json;
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    const shown = keys.slice(0, 4).join(', ');
    return `a mapping with keys ${shown}${keys.length > 4 ? ', ...' : ''}`;
  }
  return typeof value;
}

export function valueAt(root: unknown, path: readonly PathKey[]): unknown {
  let current: unknown = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

// --- zod issues -> SpecIssues ---------------------------------------------

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  record: 'a mapping (key: value)',
  array: 'a list',
  null: 'null',
};

function typeName(expected: string): string {
  return TYPE_NAMES[expected] ?? expected;
}

function describeFound(value: unknown): string {
  if (value === undefined) return 'nothing';
  const rendered = renderValue(value);
  if (Array.isArray(value)) return rendered.startsWith('a list') ? rendered : `a list ${rendered}`;
  if (typeof value === 'object' && value !== null) return rendered.startsWith('a mapping') ? rendered : `a mapping ${rendered}`;
  return rendered;
}

/** Translates zod issues for the document `input` against `schema` into SpecIssues. */
export function fromZodIssues(issues: readonly z.core.$ZodIssue[], input: unknown, schema: z.core.$ZodType): SpecIssue[] {
  return issues.flatMap((issue) => fromZodIssue(issue, input, schema));
}

/**
 * Values that may hold credentials (environment variables, hyperparameters)
 * are described by their length only: a refusal reaches the terminal, logs and
 * the workflow's history.
 */
function isSecretish(path: readonly PathKey[]): boolean {
  if (path.length !== 3) return false;
  const [section, field] = path;
  return (section === 'training' && (field === 'environment' || field === 'hyperparameters')) || (section === 'deployment' && field === 'environment');
}

function fromZodIssue(issue: z.core.$ZodIssue, input: unknown, schema: z.core.$ZodType): SpecIssue[] {
  const value = valueAt(input, issue.path);
  const path = formatPath(issue.path);
  const found = isSecretish(issue.path) && typeof value === 'string' ? `a value of ${value.length} characters (not shown)` : describeFound(value);
  switch (issue.code) {
    case 'invalid_type': {
      const expected = typeName(issue.expected);
      if (value === undefined) return [{ path, message: `required${misspeltAs(issue.path, input, schema)}`, found, expected }];
      return [{ path, message: `must be ${expected}`, found, expected }];
    }
    case 'unrecognized_keys':
      return issue.keys.map((key) => unknownKey(issue.path, key, input, schema));
    case 'too_small':
      return [{ path, message: sizeMessage(issue.origin, issue.minimum, issue.inclusive, 'min'), found, expected: sizeExpected(issue.origin, issue.minimum, issue.inclusive, 'min') }];
    case 'too_big':
      return [{ path, message: sizeMessage(issue.origin, issue.maximum, issue.inclusive, 'max'), found, expected: sizeExpected(issue.origin, issue.maximum, issue.inclusive, 'max') }];
    case 'invalid_value': {
      const allowed = issue.values.map((v) => JSON.stringify(v)).join(', ');
      const near = typeof value === 'string' ? closest(value, issue.values.map(String)) : undefined;
      return [
        {
          path,
          message: `must be one of ${allowed}${near !== undefined ? `; did you mean ${near}?` : ''}`,
          found,
          expected: `one of ${allowed}`,
        },
      ];
    }
    case 'invalid_format': {
      // Our schema words its patterns ("must be a duration such as 90s ..."); that wording beats the raw regex.
      const custom = !issue.message.startsWith('Invalid');
      const pattern = issue.pattern ?? issue.format;
      if (custom) return [{ path, message: issue.message, found, expected: issue.message.replace(/^must be /, '') }];
      return [
        {
          path,
          message: `must be a valid ${issue.format}`,
          found,
          expected: issue.format === 'regex' ? `a string matching ${pattern}` : `a valid ${issue.format}`,
        },
      ];
    }
    case 'invalid_union': {
      const branches = issue.errors
        .map((branch) => branch.find((inner) => inner.code === 'invalid_type' && inner.path.length === 0))
        .filter((inner): inner is z.core.$ZodIssueInvalidType => inner !== undefined && inner.code === 'invalid_type')
        .map((inner) => typeName(inner.expected));
      const unique = [...new Set(branches)];
      if (unique.length === issue.errors.length && unique.length > 0) {
        const expected = unique.length > 2 ? `${unique.slice(0, -1).join(', ')} or ${unique[unique.length - 1]}` : unique.join(' or ');
        return [{ path, message: value === undefined ? 'required' : `must be ${expected}`, found, expected }];
      }
      // A branch matched the type but failed deeper: its issues are the useful ones.
      const deepest = issue.errors.find((branch) => branch.length > 0 && !branch.every((inner) => inner.code === 'invalid_type' && inner.path.length === 0));
      if (deepest)
        return deepest.flatMap((inner) => fromZodIssue({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue, input, schema));
      return [{ path, message: 'does not match any allowed form', found }];
    }
    case 'invalid_key': {
      // A record key (environment variable name ...): the path ends with the key itself.
      const key = String(issue.path[issue.path.length - 1] ?? '');
      const inner = issue.issues.flatMap((i) => fromZodIssue({ ...i, path: [] } as z.core.$ZodIssue, key, schema));
      return inner.map((i) => ({ path, message: `the key ${i.message}`, found: renderValue(key), ...(i.expected !== undefined ? { expected: i.expected } : {}) }));
    }
    case 'custom': {
      const params = (issue.params ?? {}) as RuleIssueParams;
      const out: SpecIssue = { path, message: issue.message, found: params.found ?? found };
      if (params.expected !== undefined) out.expected = params.expected;
      return [out];
    }
    default:
      return [{ path, message: issue.message, found }];
  }
}

function bound(limit: number | bigint): string {
  return String(limit);
}

function sizeMessage(origin: string, limit: number | bigint, inclusive: boolean | undefined, side: 'min' | 'max'): string {
  const n = Number(limit);
  if (origin === 'string') {
    if (side === 'min' && n === 1) return 'must not be empty';
    return side === 'min' ? `must be at least ${n} characters` : `must be at most ${n} characters`;
  }
  if (origin === 'array' || origin === 'set') {
    if (side === 'min' && n === 1) return 'must have at least one item';
    return side === 'min' ? `must have at least ${n} items` : `must have at most ${n} items`;
  }
  if (side === 'min') return inclusive ? `must be at least ${bound(limit)}` : `must be greater than ${bound(limit)}`;
  return inclusive ? `must be at most ${bound(limit)}` : `must be less than ${bound(limit)}`;
}

function sizeExpected(origin: string, limit: number | bigint, inclusive: boolean | undefined, side: 'min' | 'max'): string {
  const n = Number(limit);
  if (origin === 'string') return side === 'min' ? (n === 1 ? 'a non-empty string' : `at least ${n} characters`) : `at most ${n} characters`;
  if (origin === 'array' || origin === 'set') return side === 'min' ? `at least ${n} item${n === 1 ? '' : 's'}` : `at most ${n} items`;
  const op = side === 'min' ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<';
  return `a number ${op} ${bound(limit)}`;
}

// --- unknown keys and suggestions ------------------------------------------

/** For a missing field, a hint when its parent holds an unknown key that looks like a misspelling of it. */
function misspeltAs(path: readonly PathKey[], input: unknown, schema: z.core.$ZodType): string {
  const name = path[path.length - 1];
  const parentPath = path.slice(0, -1);
  const parent = valueAt(input, parentPath);
  const known = objectKeysAt(schema, parentPath);
  if (typeof name !== 'string' || !known || parent === null || typeof parent !== 'object' || Array.isArray(parent)) return '';
  const strangers = Object.keys(parent).filter((key) => !known.includes(key) && closest(key, known) === name);
  return strangers.length > 0 ? ` (is "${strangers[0]}" a misspelling of ${name}?)` : '';
}

function unknownKey(parentPath: readonly PathKey[], key: string, input: unknown, schema: z.core.$ZodType): SpecIssue {
  const path = formatPath([...parentPath, key]);
  const found = describeFound(valueAt(input, [...parentPath, key]));
  const known = objectKeysAt(schema, parentPath);
  const where = parentPath.length === 0 ? 'the spec' : formatPath(parentPath);
  const issue: SpecIssue = { path, message: `unknown field "${key}" in ${where}`, found };
  if (known) {
    issue.expected = `one of ${known.join(', ')}`;
    const near = closest(key, known);
    if (near !== undefined) issue.message += `; did you mean ${near}?`;
    else {
      const home = homeOf(schema, key);
      if (home !== undefined) issue.message += `; ${key} belongs in ${home}`;
    }
  }
  return issue;
}

type Def = { type: string; shape?: Record<string, z.core.$ZodType>; innerType?: z.core.$ZodType; element?: z.core.$ZodType; valueType?: z.core.$ZodType; in?: z.core.$ZodType };

function defOf(schema: z.core.$ZodType): Def {
  return schema._zod.def as unknown as Def;
}

/** Strips optional/default wrappers down to the schema that holds the shape. */
function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (def.innerType && ['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional'].includes(def.type)) current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else return current;
  }
}

function schemaAt(schema: z.core.$ZodType, path: readonly PathKey[]): z.core.$ZodType | undefined {
  let current: z.core.$ZodType | undefined = unwrap(schema);
  for (const key of path) {
    if (!current) return undefined;
    const def = defOf(current);
    if (def.type === 'object' && def.shape && typeof key === 'string') current = def.shape[key];
    else if (def.type === 'array' && def.element && typeof key === 'number') current = def.element;
    else if (def.type === 'record' && def.valueType) current = def.valueType;
    else return undefined;
    if (current) current = unwrap(current);
  }
  return current;
}

function objectKeysAt(schema: z.core.$ZodType, path: readonly PathKey[]): string[] | undefined {
  const target = schemaAt(schema, path);
  if (!target) return undefined;
  const def = defOf(target);
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
}

/** Where in the spec a field of this exact name lives, for a key put at the wrong level. */
function homeOf(schema: z.core.$ZodType, key: string): string | undefined {
  const seen: string[] = [];
  const visit = (node: z.core.$ZodType, path: string): void => {
    const def = defOf(unwrap(node));
    if (def.type === 'object' && def.shape) {
      for (const [name, child] of Object.entries(def.shape)) {
        const childPath = path === '' ? name : `${path}.${name}`;
        if (name === key) seen.push(path === '' ? 'the top level' : path);
        visit(child, childPath);
      }
    } else if (def.type === 'array' && def.element) visit(def.element, `${path}[]`);
  };
  visit(schema, '');
  return seen.length === 1 ? seen[0] : undefined;
}

/** The known name nearest to `name`, if it is near enough to be a likely typo. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = candidate.toLowerCase() === lower ? 0 : editDistance(lower, candidate.toLowerCase());
    // On a tie, a candidate of the same length is likelier a swap of letters ("=>" for ">=").
    if (d < bestDistance || (d === bestDistance && best !== undefined && candidate.length === name.length && best.length !== name.length)) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best === undefined) return undefined;
  // A clipped name ("train" for "training") is a typo too, however many letters are missing.
  const prefixed = lower.length >= 3 ? candidates.find((c) => c.toLowerCase().startsWith(lower)) : undefined;
  if (bestDistance > 1 && prefixed !== undefined) return prefixed;
  const allowed = Math.max(1, Math.min(3, Math.floor(Math.max(name.length, best.length) / 3)));
  return bestDistance <= allowed ? best : undefined;
}

/** Optimal string alignment distance: a swap of neighbours counts as one edit. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[rows - 1]![cols - 1]!;
}
