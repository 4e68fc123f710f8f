// A docker-layer test file must leave no container and no image tag of its
// own behind. This runs such a file in a child jest whose `docker` is a shim
// on PATH that records every command before running the real one, so what the
// file made is known exactly (the engine may be shared with other runs): every
// tag it built or tagged and every container it created must be gone when it
// ends. It also prints the engine's counts of `champ.local/*` tags and
// champ-labelled containers before and after. Skips without an engine.
//
//   CHAMP_LEFTOVER_FILES="test/docker/a.test.ts test/docker/b.test.ts"  the files to check
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { makeTempDir, removeDir } from './support';

const ROOT = path.resolve(__dirname, '../..');
const FILES = (process.env.CHAMP_LEFTOVER_FILES ?? 'test/docker/processing.test.ts').split(/\s+/).filter(Boolean);

function realDocker(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const dockerBin = realDocker();
const engine = dockerBin ? spawnSync(dockerBin, ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 15_000 }) : undefined;
const noEngine = !dockerBin ? 'no docker command on PATH' : engine?.status !== 0 ? `no Docker engine answers (docker info: exit ${String(engine?.status)})` : undefined;
if (noEngine) console.warn(`docker leftovers check skipped: ${noEngine}; scripts/engine/ensure.sh starts one as root on Debian`);
const maybe = noEngine ? describe.skip : describe;

const lines = (args: string[]): string[] => {
  const r = spawnSync(dockerBin!, args, { encoding: 'utf8', timeout: 60_000 });
  return (r.stdout ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
};

/** What the engine holds of ours: `champ.local/*` tags and containers carrying champ's labels. */
function counts(): { tags: number; containers: number } {
  return {
    tags: lines(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']).filter((t) => t.startsWith('champ.local/')).length,
    containers: lines(['container', 'ls', '--all', '--filter', 'label=org.champ.local.plane', '--format', '{{.ID}}']).length,
  };
}

/** Every docker invocation the shim saw: one argument per line, a NUL line between invocations. */
function invocations(log: string): string[][] {
  let text = '';
  try {
    text = readFileSync(log, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\0\n')
    .filter((chunk) => chunk.length > 0)
    .map((chunk) => chunk.split('\n').slice(0, -1));
}

const flagValue = (args: string[], names: string[]): string[] => {
  const out: string[] = [];
  args.forEach((a, i) => {
    for (const n of names) {
      if (a === n && args[i + 1] !== undefined) out.push(args[i + 1]!);
      else if (a.startsWith(`${n}=`)) out.push(a.slice(n.length + 1));
    }
  });
  return out;
};

/** The tags and container names a run made, from its docker commands. */
function madeBy(calls: string[][]): { tags: string[]; containers: string[] } {
  const tags = new Set<string>();
  const containers = new Set<string>();
  for (const args of calls) {
    const verb = args[0] === 'image' || args[0] === 'container' || args[0] === 'buildx' ? args[1] : args[0];
    const rest = args[0] === 'image' || args[0] === 'container' || args[0] === 'buildx' ? args.slice(2) : args.slice(1);
    if (verb === 'build') for (const t of flagValue(rest, ['-t', '--tag'])) tags.add(t);
    if (verb === 'tag' && rest.length >= 2) tags.add(rest[rest.length - 1]!);
    if (verb === 'create' || verb === 'run') for (const n of flagValue(rest, ['--name'])) containers.add(n);
  }
  return { tags: [...tags].sort(), containers: [...containers].sort() };
}

interface Checked {
  code: number | null;
  output: string;
  made: { tags: string[]; containers: string[] };
  left: { tags: string[]; containers: string[] };
}

/** Runs jest on `files` (from `rootDir`, with `config` when given) with the recording shim first on PATH. */
async function runChecked(files: string[], opts: { rootDir?: string; config?: string } = {}): Promise<Checked> {
  const dir = await makeTempDir('leftovers');
  try {
    const log = path.join(dir, 'docker.log');
    const shim = path.join(dir, 'bin', 'docker');
    spawnSync('mkdir', ['-p', path.dirname(shim)]);
    // One write per invocation (the record built first), so parallel commands do not interleave.
    writeFileSync(shim, `#!/bin/sh\nrec=$(for a in "$@"; do printf '%s\\n' "$a"; done; printf x)\nprintf '%s\\0\\n' "\${rec%x}" >> '${log}'\nexec '${dockerBin!}' "$@"\n`);
    chmodSync(shim, 0o755);
    const args = ['--runInBand', '--ci', ...(opts.config ? ['--config', opts.config, '--rootDir', opts.rootDir ?? ROOT] : []), ...files];
    const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'jest'), args, {
      cwd: opts.rootDir ?? ROOT,
      env: { ...process.env, PATH: `${path.dirname(shim)}:${process.env.PATH ?? ''}`, CHAMP_TEST_RUN_DIR: '', CHAMP_TEST_TEMPORAL_ADDRESS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    const made = madeBy(invocations(log));
    const exists = (kind: 'image' | 'container', ref: string) => spawnSync(dockerBin!, [kind, 'inspect', ref], { stdio: 'ignore', timeout: 60_000 }).status === 0;
    return {
      code,
      output,
      made,
      left: { tags: made.tags.filter((t) => exists('image', t)), containers: made.containers.filter((c) => exists('container', c)) },
    };
  } finally {
    await removeDir(dir);
  }
}

maybe('docker-layer test files leave nothing behind', () => {
  test.each(FILES)('%s removes every tag it built and every container it created', async (file) => {
    const before = counts();
    const r = await runChecked([file]);
    const after = counts();
    console.log(`${file}: champ.local tags ${before.tags} -> ${after.tags}, champ containers ${before.containers} -> ${after.containers}; it made ${r.made.tags.length} tag(s), ${r.made.containers.length} container(s)`);
    expect(r.output).toMatch(/Tests:\s+.*\d+ passed/);
    expect(r.left).toEqual({ tags: [], containers: [] });
  }, 600_000);

  test('the check fails for a file that leaves a tag behind', async () => {
    const dir = await makeTempDir('leaky');
    const tag = `champ.local/leftover-check:t${process.pid}`;
    const base = lines(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']).find((t) => !t.includes('<none>'));
    if (!base) throw new Error('the engine holds no image to tag');
    try {
      writeFileSync(
        path.join(dir, 'leaky.test.js'),
        `const { spawnSync } = require('node:child_process');\ntest('tags and forgets', () => { expect(spawnSync('docker', ['tag', ${JSON.stringify(base)}, ${JSON.stringify(tag)}]).status).toBe(0); });\n`,
      );
      const r = await runChecked([path.join(dir, 'leaky.test.js')], { rootDir: dir, config: JSON.stringify({ testEnvironment: 'node', testMatch: ['**/*.test.js'] }) });
      expect(r.output).toMatch(/Tests:\s+1 passed/);
      expect(r.left).toEqual({ tags: [tag], containers: [] });
    } finally {
      spawnSync(dockerBin!, ['image', 'rm', tag], { stdio: 'ignore' });
      await removeDir(dir);
    }
  }, 120_000);
});
