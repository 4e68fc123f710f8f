import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { LOCAL_POLL, validateSpec } from '../../src/activities/spec';

const minimal = parse(readFileSync(join(__dirname, '..', 'fixtures', 'specs', 'valid', 'minimal.yaml'), 'utf8')) as unknown;

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
});
