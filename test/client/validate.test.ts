// `champ validate` over the whole malformed-spec corpus: every spec refused,
// with a non-zero exit and a message naming the field; and files no spec
// should be read from (a device, a huge file) refused after a bounded read.
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

  it('has a corpus of at least 160 malformed specs', () => {
    expect(cases.length).toBeGreaterThanOrEqual(160);
  });

  it.each(cases.map((c) => [c.name, c] as const))('refuses %s, naming the field', async (_name, c) => {
    const { io, out, err } = capture();
    const code = await runCli(['validate', c.file], io);
    expect(code).toBe(2);
    expect(out).toEqual([]);
    const text = err.join('\n');
    expect(text).toContain('invalid pipeline spec');
    expect(text).toContain(c.path === '' ? c.file : c.path);
    if (c.fragment !== undefined) expect(text.toLowerCase()).toContain(c.fragment.toLowerCase());
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

  it('refuses /dev/zero after reading at most 1 MiB', async () => {
    const { io, err } = capture();
    const before = process.memoryUsage().rss;
    const started = Date.now();
    expect(await runCli(['validate', '/dev/zero'], io)).toBe(2);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
    expect(err.join('\n')).toContain('/dev/zero: the spec is over 1 MiB, larger than the 1 MiB a spec may be');
  });

  describe('with files made for the test', () => {
    let tmp: string;
    beforeEach(() => {
      tmp = mkdtempSync(join(tmpdir(), 'champ-validate-'));
    });
    afterEach(() => {
      rmSync(tmp, { recursive: true, force: true });
    });

    it('refuses a 50 MB spec by its size, before the Temporal limit could', async () => {
      const file = join(tmp, 'huge.yaml');
      const fd = openSync(file, 'w');
      ftruncateSync(fd, 50 * 1024 * 1024);
      closeSync(fd);
      const { io, err } = capture();
      expect(await runCli(['validate', file], io)).toBe(2);
      expect(err.join('\n')).toContain(`${file}: the spec is 50 MiB, larger than the 1 MiB a spec may be; is this the right file?`);
    });

    it('refuses a spec saved as UTF-16, with the fix', async () => {
      const file = join(tmp, 'utf16.yaml');
      writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('name: x\n', 'utf16le')]));
      const { io, err } = capture();
      expect(await runCli(['validate', file], io)).toBe(2);
      expect(err.join('\n')).toContain('save it as UTF-8');
    });
  });
});
