// `.ci/run` ends with the count line "N passed, N failed" whatever went wrong,
// and exits non-zero when anything failed. npm is replaced by a script that
// plays each failure; everything else is the real .ci/run.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

/** Runs .ci/run with a fake npm whose `npm <verb>` behaviour is given as shell snippets. */
function ciRun(npm: { install?: string; typecheck?: string; lint?: string; test?: string }) {
  const bin = mkdtempSync(join(tmpdir(), 'champ-ci-'));
  try {
    writeFileSync(
      join(bin, 'npm'),
      `#!/usr/bin/env bash
case "$*" in
  ci*|install*) ${npm.install ?? 'exit 0'} ;;
  *typecheck*) ${npm.typecheck ?? 'exit 0'} ;;
  *lint*) ${npm.lint ?? 'exit 0'} ;;
  test*) ${npm.test ?? 'exit 0'} ;;
esac
`,
    );
    chmodSync(join(bin, 'npm'), 0o755);
    const r = spawnSync('bash', [join(ROOT, '.ci', 'run')], {
      cwd: ROOT,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, CHAMP_ENGINE_SETUP: 'skip' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    const lines = (r.stdout ?? '').trimEnd().split('\n');
    return { code: r.status, last: lines[lines.length - 1], stdout: r.stdout };
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}

describe('.ci/run', () => {
  it('counts the passes and failures of a jest run with failures, and exits non-zero', () => {
    const r = ciRun({ test: 'echo "Tests:       2 failed, 1 skipped, 40 passed, 43 total" >&2; exit 1' });
    expect(r.last).toBe('40 passed, 2 failed');
    expect(r.stdout).toContain('1 skipped');
    expect(r.code).not.toBe(0);
  });

  it('reads a coloured summary (FORCE_COLOR) as well', () => {
    const r = ciRun({ test: String.raw`printf '\033[1mTests:\033[22m       \033[1m\033[32m7 passed\033[39m\033[22m, 7 total\n'; exit 0` });
    expect(r).toMatchObject({ code: 0, last: '7 passed, 0 failed' });
  });

  it('counts a jest crash with no summary as a failure', () => {
    const r = ciRun({ test: 'echo "Error: Cannot find module ts-jest" >&2; exit 1' });
    expect(r.last).toBe('0 passed, 1 failed');
    expect(r.code).not.toBe(0);
  });

  it('counts a failed suite whose tests all passed as a failure', () => {
    const r = ciRun({ test: 'echo "Test Suites: 1 failed, 3 passed, 4 total"; echo "Tests:       12 passed, 12 total"; exit 1' });
    expect(r.last).toBe('12 passed, 1 failed');
    expect(r.code).not.toBe(0);
  });

  it.each([
    ['the install', { install: 'exit 1' }],
    ['the type check', { typecheck: 'exit 2' }],
    ['lint', { lint: 'exit 1' }],
  ])('prints the count line when %s fails', (_what, npm) => {
    const r = ciRun(npm);
    expect(r.last).toBe('0 passed, 1 failed');
    expect(r.code).not.toBe(0);
  });
});
