// Property-based fuzzing of the spec parser: whatever arrives (random values,
// random YAML and JSON text, random bytes, a valid spec with random damage),
// parsing ends quickly with a spec or a SpecError whose issues name a field.
// Bounded: a fixed seed (FUZZ_SEED overrides it), 300 runs per property
// (FUZZ_RUNS overrides it) and a time limit per property, so it is no slower
// or flakier than a unit test.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { parse } from 'yaml';
import { decodeSpecBytes } from '../../src/spec/document';
import { parseSpec, parseSpecText, readDocument, SpecError } from '../../src/spec';
import { SPEC_FIXTURES } from './corpus';

const SEED = Number(process.env.FUZZ_SEED ?? 20_241_202);
const RUNS = { seed: SEED, numRuns: Number(process.env.FUZZ_RUNS ?? 300), interruptAfterTimeLimit: Number(process.env.FUZZ_RUNS ?? 0) > 300 ? 600_000 : 20_000 };
jest.setTimeout(RUNS.interruptAfterTimeLimit + 30_000);

/** One case may take this long at most: far above the usual milliseconds, far below a hang. */
const CASE_MS = 2_000;

/** Runs `fn`; true for a spec, false for a well-formed SpecError; anything else fails the property. */
function specOrSpecError(fn: () => unknown, options: { fieldPaths?: boolean } = {}): boolean {
  const started = Date.now();
  try {
    fn();
    return true;
  } catch (err) {
    if (!(err instanceof SpecError)) throw new Error(`not a SpecError: ${String((err as Error)?.stack ?? err)}`);
    expect(err.issues.length).toBeGreaterThan(0);
    for (const issue of err.issues) {
      expect(typeof issue.path).toBe('string');
      expect(issue.message.length).toBeGreaterThan(0);
      if (options.fieldPaths) expect(issue.path).not.toBe('');
    }
    expect(err.format().length).toBeGreaterThan(0);
    return false;
  } finally {
    expect(Date.now() - started).toBeLessThan(CASE_MS);
  }
}

const valid = parse(readFileSync(path.join(SPEC_FIXTURES, 'valid', 'claims-severity.yaml'), 'utf8')) as Record<string, unknown>;

/** Every path in a value, objects and arrays alike, the root excluded. */
function pathsOf(value: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  if (value === null || typeof value !== 'object') return [];
  const entries: Array<[string | number, unknown]> = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  return entries.flatMap(([key, child]) => [[...at, key], ...pathsOf(child, [...at, key])]);
}
const PATHS = pathsOf(valid);

/** Strings meant to hurt: options, header injection, shell, traversal, absurd durations, backtracking, prototype keys. */
const hostileString = fc.constantFrom(
  '',
  ' ',
  '-',
  '--privileged',
  '-v=/:/host',
  'a\r\nX-Injected: 1',
  'a\nb',
  'a\u0000b',
  '$(id)',
  '`id`',
  'a;rm -rf /',
  '../../../etc/passwd',
  'file://../../etc',
  'file:///etc/../etc/shadow',
  's3://',
  '99999999d',
  '0s',
  '1ms',
  '(a+)+$',
  '((a|a)+)',
  '__proto__',
  'constructor',
  '💥',
  'x'.repeat(5_000),
);

const anyValue = fc.oneof(
  fc.anything({ maxDepth: 4 }),
  fc.jsonValue({ maxDepth: 4 }),
  hostileString,
  fc.integer(),
  fc.double(),
  fc.constantFrom(1_000_000, -1, 0, 1.5, Number.MAX_SAFE_INTEGER, 1e308),
);

type Mutation = { path: Array<string | number>; op: 'set' | 'delete' | 'rename'; value: unknown; key: string };

const mutation: fc.Arbitrary<Mutation> = fc.record({
  path: fc.constantFrom(...PATHS),
  op: fc.constantFrom('set', 'set', 'set', 'delete', 'rename') as fc.Arbitrary<Mutation['op']>,
  value: anyValue,
  key: fc.oneof(hostileString, fc.string({ maxLength: 12 })),
});

function mutate(root: Record<string, unknown>, m: Mutation): void {
  let parent: unknown = root;
  for (const key of m.path.slice(0, -1)) {
    if (parent === null || typeof parent !== 'object') return;
    parent = (parent as Record<string | number, unknown>)[key];
  }
  if (parent === null || typeof parent !== 'object') return;
  const target = parent as Record<string | number, unknown>;
  const last = m.path[m.path.length - 1]!;
  if (!(last in target)) return;
  if (m.op === 'set') target[last] = m.value;
  else if (m.op === 'delete') delete target[last];
  else if (!Array.isArray(target)) {
    const value = target[last];
    delete target[last];
    Object.defineProperty(target, m.key, { value, enumerable: true, configurable: true, writable: true });
  }
}

describe('fuzzing the spec parser', () => {
  test('any value: a spec or a SpecError', () => {
    fc.assert(fc.property(anyValue, (value) => void specOrSpecError(() => parseSpec(value))), RUNS);
  });

  test('a valid spec with random damage: a spec, or a SpecError naming the damaged fields', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        const spec = structuredClone(valid);
        for (const m of mutations) mutate(spec, m);
        specOrSpecError(() => parseSpec(spec), { fieldPaths: true });
      }),
      RUNS,
    );
  });

  test('what parses survives the trip to the worker: JSON out, parse again, the same spec', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 2 }), (mutations) => {
        const spec = structuredClone(valid);
        for (const m of mutations) mutate(spec, { ...m, value: JSON.parse(JSON.stringify(m.value ?? null)) as unknown });
        let parsed: unknown;
        try {
          parsed = parseSpec(spec);
        } catch (err) {
          if (err instanceof SpecError) return;
          throw err;
        }
        const again = parseSpec(JSON.parse(JSON.stringify(parsed)) as unknown);
        expect(JSON.stringify(again)).toBe(JSON.stringify(parsed));
      }),
      RUNS,
    );
  });

  const yamlPiece = fc.constantFrom(
    'name', 'training', 'deployment', 'image', 'uri', ':', ': ', ' ', '  ', '\n', '\t', '- ', '[', ']', '{', '}', ',', '"', "'", '#',
    '&a ', '*a', '!!binary ', '!tag ', '? ', '|', '>', '---\n', '...\n', '%YAML 1.1\n', '<<: ', '__proto__', '0x1F', '1e999', '.nan', '~', 'null', 'true', '\\u0000', '\u0000', '\ufeff', '😀',
  );
  const yamlText = fc.oneof(fc.array(yamlPiece, { maxLength: 80 }).map((parts) => parts.join('')), fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }));

  test('any YAML-like text: a spec or a SpecError', () => {
    fc.assert(fc.property(yamlText, (text) => void specOrSpecError(() => parseSpecText(text))), RUNS);
  });

  test('any JSON text, whole or cut: a spec or a SpecError', () => {
    const jsonText = fc.oneof(
      fc.json({ maxDepth: 5 }),
      fc.tuple(fc.json({ maxDepth: 5 }), fc.nat(), fc.nat()).map(([text, a, b]) => text.slice(0, a % (text.length + 1)) + text.slice(b % (text.length + 1))),
      fc.constant(JSON.stringify(valid)).chain((text) => fc.tuple(fc.constant(text), fc.nat(text.length), yamlPiece).map(([t, at, piece]) => t.slice(0, at) + piece + t.slice(at))),
    );
    fc.assert(fc.property(jsonText, (text) => void specOrSpecError(() => parseSpecText(text, { format: 'json' }))), RUNS);
  });

  test('any bytes: decoded and parsed, or refused with a SpecError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (bytes, json) => {
        specOrSpecError(() => {
          const decoded = decodeSpecBytes(bytes);
          if ('issue' in decoded) throw new SpecError([decoded.issue]);
          return readDocument(decoded.text, { format: json ? 'json' : 'yaml' });
        });
      }),
      RUNS,
    );
  });

  test('the UTF-8 check agrees with the platform decoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        let platform = true;
        try {
          new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
        } catch {
          platform = false;
        }
        expect('text' in decodeSpecBytes(bytes)).toBe(platform);
      }),
      RUNS,
    );
  });
});
