// Hostile documents and values: each refused with a SpecError that names the
// field (or the document), quickly, without exhausting memory or the stack.
import { MAX_SPEC_BYTES, parseSpec, parseSpecText, readDocument } from '../../src/spec';
import { baseSpec, specError } from './support';

const base = baseSpec;
const refusal = specError;

const json = (value: unknown) => JSON.stringify(value, null, 2);

describe('keys that alter prototypes', () => {
  test.each([
    ['{"__proto__": {"polluted": true}}', '__proto__'],
    ['{"training": {"constructor": {"prototype": {}}}}', 'training.constructor'],
    ['{"tags": {"prototype": "x"}}', 'tags.prototype'],
  ])('%s is refused at %s, as the worker receives it (JSON.parse keeps the key)', (patch, at) => {
    const value = { ...(JSON.parse(json(base())) as object), ...(JSON.parse(patch) as object) };
    const issues = refusal(() => parseSpec(value)).issues;
    expect(issues).toEqual([expect.objectContaining({ path: at, message: expect.stringContaining('is not allowed as a key') })]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('a YAML __proto__ key is refused, not dropped', () => {
    const text = `${'name: claims-severity\n'}__proto__:\n  name: other\n`;
    expect(refusal(() => parseSpecText(text)).issues[0]).toMatchObject({ path: '__proto__' });
  });
});

describe('duplicate keys', () => {
  test('in JSON, naming the key and both lines', () => {
    const text = '{\n  "name": "a",\n  "deployment": {\n    "endpointName": "x",\n    "endpointName": "y"\n  }\n}\n';
    expect(refusal(() => readDocument(text, { format: 'json' })).issues).toEqual([
      { path: 'deployment.endpointName', line: 5, message: 'appears twice in one object (lines 4 and 5); JSON would silently keep only the last, so remove one' },
    ]);
  });

  test('in JSON, inside lists and with escapes and strings that look like syntax', () => {
    const text = '{"a": [{"k": "{[\\"]}", "k\\u0031": 1}, {"k": 1, "k": 2}], "b": "\\\\"}';
    expect(refusal(() => readDocument(text, { format: 'json' })).issues.map((i) => i.path)).toEqual(['a[1].k']);
  });

  test('in YAML, naming the key and both lines', () => {
    const text = 'name: a\ntraining:\n  outputPath: s3://a/\n  outputPath: s3://b/\n';
    expect(refusal(() => parseSpecText(text)).issues[0]).toMatchObject({ path: 'training.outputPath', line: 4, message: expect.stringContaining('lines 3 and 4') });
  });

  test('the same key in two mappings is not a duplicate', () => {
    expect(readDocument('a: {k: 1}\nb: {k: 2}\n')).toEqual({ a: { k: 1 }, b: { k: 2 } });
    expect(readDocument('{"a": {"k": 1}, "b": {"k": 2}}', { format: 'json' })).toEqual({ a: { k: 1 }, b: { k: 2 } });
  });
});

describe('size, depth and expansion', () => {
  test('50 MB of spec text is refused without parsing it', () => {
    const text = `name: x\ndescription: "${'x'.repeat(50 * 1024 * 1024)}"\n`;
    const started = Date.now();
    expect(refusal(() => parseSpecText(text)).issues[0]!.message).toContain('larger than the 1 MiB');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test('JSON and YAML nested 100,000 deep end as a SpecError, not a stack overflow', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(refusal(() => parseSpecText(deep, { format: 'json' })).issues[0]!.message).toMatch(/nest/);
    expect(refusal(() => parseSpecText(deep)).issues[0]!.message).toMatch(/nest/);
  });

  test('a value nested 33 deep is refused at the path where it got too deep', () => {
    let body: unknown = 1;
    for (let i = 0; i < 40; i++) body = [body];
    const spec = { ...base(), deployment: { endpointName: 'claims-severity', smokeTest: { body } } };
    const [issue] = refusal(() => parseSpec(spec)).issues;
    expect(issue!.path).toBe(`deployment.smokeTest.body${'[0]'.repeat(29)}`);
  });

  test('a billion-laughs YAML document is refused in well under a second', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const started = Date.now();
    expect(refusal(() => readDocument(levels.join('\n'))).issues[0]!.message).toContain('aliases');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  test('a few aliases are fine', () => {
    expect(readDocument('a: &x {k: 1}\nb: *x\n')).toEqual({ a: { k: 1 }, b: { k: 1 } });
  });

  test('more than 100,000 values are refused', () => {
    const spec = { ...base(), deployment: { endpointName: 'claims-severity', smokeTest: { body: new Array(100_001).fill(0) } } };
    expect(refusal(() => parseSpec(spec)).issues[0]!.message).toContain('more than 100000 values');
  });

  test('more than 1 MiB of text in a value is refused', () => {
    const spec = { ...base(), deployment: { endpointName: 'claims-severity', smokeTest: { body: ['x'.repeat(MAX_SPEC_BYTES), 'y'] } } };
    expect(refusal(() => parseSpec(spec)).issues[0]!.message).toContain('more than 1 MiB of text');
  });
});

describe('values that are not plain data', () => {
  test.each([
    ['a Date', new Date(0)],
    ['a Map', new Map()],
    ['a Buffer', Buffer.from('x')],
    ['a function', () => 1],
    ['a bigint', BigInt(1)],
    ['a symbol', Symbol('x')],
  ])('%s in the smoke-test body is refused, naming it', (_name, value) => {
    const spec = { ...base(), deployment: { endpointName: 'claims-severity', smokeTest: { body: { x: value } } } };
    expect(refusal(() => parseSpec(spec)).issues[0]!.path).toBe('deployment.smokeTest.body.x');
  });

  test.each([NaN, Infinity, -Infinity])('%s is refused: not a finite number', (n) => {
    const spec = { ...base(), training: { ...base().training, hyperparameters: { eta: n } } };
    expect(refusal(() => parseSpec(spec)).issues[0]).toMatchObject({ path: 'training.hyperparameters.eta', message: 'must be a finite number' });
  });

  test('YAML 1.1 tags such as !!timestamp are refused rather than read as Dates', () => {
    expect(refusal(() => readDocument('a: !!timestamp 2001-12-14\n')).issues[0]!.message).toContain('tag !!timestamp is not supported');
    // An untagged date stays a string.
    expect(readDocument('a: 2001-12-14\n')).toEqual({ a: '2001-12-14' });
  });

  test('a null-prototype object (as some parsers make) is plain data', () => {
    const spec = Object.assign(Object.create(null) as object, base());
    expect(parseSpec(spec).name).toBe('claims-severity');
  });
});

describe('values that may be credentials', () => {
  test('an environment value is described by its length, never shown, in the refusal', () => {
    const secret = 'AKIAABCDEFGHIJKLMNOP\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const spec = { ...base(), deployment: { endpointName: 'claims-severity', environment: { AWS_SECRET: secret } } };
    const error = refusal(() => parseSpec(spec));
    expect(error.issues[0]).toMatchObject({ path: 'deployment.environment.AWS_SECRET', found: `a value of ${secret.length} characters (not shown)` });
    expect(error.message).not.toContain('AKIA');
  });
});
