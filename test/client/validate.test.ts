// `champ validate` over the whole malformed-spec corpus: every spec refused,
// with a non-zero exit and a message naming the field.
import { join } from 'node:path';
import { runCli } from '../../src/client';
import { invalidSpecCases, SPEC_FIXTURES } from '../spec/corpus';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env: {} }, out, err };
}

describe('champ validate', () => {
  const cases = invalidSpecCases();

  it('has a corpus of at least 25 malformed specs', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases.map((c) => [c.name, c] as const))('refuses %s, naming the field', async (_name, c) => {
    const { io, out, err } = capture();
    const code = await runCli(['validate', c.file], io);
    expect(code).toBe(2);
    expect(out).toEqual([]);
    const text = err.join('\n');
    expect(text).toContain('invalid pipeline spec');
    expect(text).toContain(c.path);
  });

  it('accepts the example pipeline and exits 0', async () => {
    const { io, out, err } = capture();
    const code = await runCli(['validate', join(__dirname, '..', '..', 'examples', 'claims-severity', 'pipeline.yaml')], io);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/valid pipeline "claims-severity"/);
  });

  it('accepts every valid fixture', async () => {
    for (const name of ['minimal.yaml', 'claims-severity.yaml', 'linear-prebuilt.json']) {
      const { io } = capture();
      expect(await runCli(['validate', join(SPEC_FIXTURES, 'valid', name)], io)).toBe(0);
    }
  });

  it('says so in one line when the file does not exist', async () => {
    const { io, err } = capture();
    const code = await runCli(['validate', '/nonexistent/spec.yaml'], io);
    expect(code).toBe(2);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/\/nonexistent\/spec\.yaml/);
  });
});
