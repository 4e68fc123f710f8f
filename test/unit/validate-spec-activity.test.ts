import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import fc from 'fast-check';
import { parse } from 'yaml';
import { LOCAL_POLL, validateSpec } from '../../src/activities/spec';
import type { ValidateSpecInput } from '../../src/activities/types';

const minimal = parse(readFileSync(join(__dirname, '..', 'fixtures', 'specs', 'valid', 'minimal.yaml'), 'utf8')) as unknown;

/** The activity's answer to `input`: its spec, or the failure it threw. */
async function outcome(input: unknown): Promise<{ ok: true } | { ok: false; failure: unknown }> {
  try {
    await validateSpec(input as ValidateSpecInput);
    return { ok: true };
  } catch (failure) {
    return { ok: false, failure };
  }
}

function expectInvalidSpec(failure: unknown, naming?: string): void {
  expect(failure).toBeInstanceOf(ApplicationFailure);
  const f = failure as ApplicationFailure;
  expect(f).toMatchObject({ type: 'InvalidSpec', nonRetryable: true });
  expect(f.message).toMatch(/^invalid pipeline spec/);
  if (naming !== undefined) expect(f.message).toContain(naming);
}

describe('validateSpec activity', () => {
  it('suggests second-scale polls when the worker drives the local control plane', async () => {
    const r = await validateSpec({ spec: minimal }, true);
    expect(r.suggestedPoll).toEqual(LOCAL_POLL);
  });

  it('suggests nothing on AWS, so the workflow keeps its defaults', async () => {
    const r = await validateSpec({ spec: minimal }, false);
    expect(r.suggestedPoll).toBeUndefined();
    expect(r.spec.deployment.instanceCount).toBe(1);
  });

  it('refuses a bad spec with a non-retryable InvalidSpec naming the field', async () => {
    await expect(validateSpec({ spec: { ...(minimal as object), name: 'bad name!' } })).rejects.toMatchObject({
      type: 'InvalidSpec',
      nonRetryable: true,
      message: expect.stringContaining('name'),
    });
  });

  it.each([
    ['null input', null],
    ['an input without spec', {}],
    ['a null spec', { spec: null }],
    ['a string input', 'spec'],
  ])('refuses %s as InvalidSpec, not a TypeError retried forever', async (_name, input) => {
    const r = await outcome(input);
    expect(r.ok).toBe(false);
    expectInvalidSpec((r as { failure: unknown }).failure, 'input.spec is required');
  });

  it.each([
    ['a __proto__ key, as raw JSON from the temporal CLI carries it', '{"__proto__": {"x": 1}}', '__proto__'],
    ['CR/LF in the smoke-test Accept header', '{"deployment": {"endpointName": "minimal", "smokeTest": {"accept": "a/b\\r\\nX: 1", "body": "x"}}}', 'deployment.smokeTest.accept'],
    ['an image URI that reads as an option', '{"image": {"uri": "--privileged"}}', 'image.uri'],
    ['a million instances', '{"deployment": {"endpointName": "minimal", "instanceCount": 1000000}}', 'deployment.instanceCount'],
  ])('refuses %s, naming the field as the workflow input holds it (input.spec.<field>)', async (_name, patch, field) => {
    const spec = { ...(minimal as object), ...(JSON.parse(patch) as object) };
    const r = await outcome({ spec });
    expect(r.ok).toBe(false);
    expectInvalidSpec((r as { failure: unknown }).failure, `input.spec.${field}`);
  });

  it.each([
    ['a spec that is text', 'name: minimal', /^input\.spec: must be a mapping/m],
    ['a spec that is a list', [], /^input\.spec: must be a mapping/m],
    ['a bad channel', { ...(minimal as object), training: { inputs: [{ name: 'train', uri: 'http://x/' }], outputPath: 's3://b/o/' } }, /^input\.spec\.training\.inputs\[0\]\.uri: /m],
  ])('names the spec field of %s from the input down, and keeps the spec paths in the details', async (_name, spec, line) => {
    const r = await outcome({ spec });
    expect(r.ok).toBe(false);
    const f = (r as { failure: ApplicationFailure }).failure;
    expectInvalidSpec(f);
    expect(f.message).toMatch(line);
    const [details] = f.details as [{ issues: Array<{ path: string }> }];
    for (const issue of details.issues) expect(issue.path).not.toMatch(/^input\./);
  });

  it('answers any input with a spec or one InvalidSpec failure (fuzzed, 300 cases)', async () => {
    const damaged = fc.record({ key: fc.constantFrom('name', 'image', 'training', 'deployment', 'approval', '__proto__', 'extra'), value: fc.anything({ maxDepth: 3 }) });
    const input = fc.oneof(
      fc.anything({ maxDepth: 3 }),
      fc.record({ spec: fc.anything({ maxDepth: 3 }) }),
      damaged.map(({ key, value }) => ({ spec: JSON.parse(JSON.stringify({ ...(minimal as object), [key]: value ?? null })) as unknown })),
    );
    await fc.assert(
      fc.asyncProperty(input, async (value) => {
        const started = Date.now();
        const r = await outcome(value);
        expect(Date.now() - started).toBeLessThan(2_000);
        if (!r.ok) expectInvalidSpec(r.failure);
      }),
      { seed: Number(process.env.FUZZ_SEED ?? 20_241_202), numRuns: 300, interruptAfterTimeLimit: 20_000 },
    );
  });
});
