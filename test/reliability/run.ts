// `npm run test:reliability [-- --quick] [-- --loaded] [-- --seed N] [-- --markdown FILE]`
//
// Runs the reliability scenarios (test/reliability/full.scenario.ts, or with
// --quick the subset `npm test` runs too) under jest, with recognisable fake
// credentials in the environment, then prints one table: scenario, runs,
// passed, resources leaked, duplicates, orphans, dropped requests, secrets
// found. --loaded adds the whole `npm test`, twice, with one CPU-bound process
// per core running beside it. Exit 1 unless every row passes.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { emptyRow, FAKE_SECRETS, rowPasses, type Row } from './kit';

const ROOT = resolve(__dirname, '../..');
/** The issue's budget for the whole run; the loaded `npm test` runs come on top. */
const SUITE_LIMIT_MS = 40 * 60_000;
/** Per loaded `npm test` run: about 8 minutes on 2 idle cores, several times that beside the burners. */
const NPM_TEST_LIMIT_MS = 45 * 60_000;

interface Args {
  quick: boolean;
  loaded: boolean;
  seed: string;
  markdown?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: process.env.CHAMP_RELIABILITY_QUICK === '1', loaded: false, seed: process.env.CHAMP_RELIABILITY_SEED ?? '1202' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--loaded') args.loaded = true;
    else if (a === '--seed' && /^\d+$/.test(argv[i + 1] ?? '')) args.seed = argv[++i] as string;
    else if (a === '--markdown' && argv[i + 1]) args.markdown = argv[++i];
    else {
      process.stderr.write(`reliability: unknown argument ${JSON.stringify(a)}; use --quick, --loaded, --seed <integer>, --markdown <file>\n`);
      process.exit(2);
    }
  }
  return args;
}

/** Runs a command in its own process group with inherited output; kills the group at the limit. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, limitMs: number, capture = false): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  return new Promise((ok) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', capture ? 'pipe' : 'inherit', capture ? 'pipe' : 'inherit'] });
    let output = '';
    const keep = (d: Buffer) => {
      process.stdout.write(d);
      output = (output + d.toString()).slice(-200_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }, limitMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      ok({ code, output, timedOut });
    });
  });
}

/** The whole `npm test` twice with one busy-looping process per core beside it. */
async function loadedRuns(): Promise<Row[]> {
  const burners = cpus().map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  // However this run ends (Ctrl-C included), the burners end with it.
  const killBurners = (): void => {
    for (const b of burners) b.kill('SIGKILL');
  };
  process.once('exit', killBurners);
  const onSignal = (sig: NodeJS.Signals) => () => {
    killBurners();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal('SIGINT'));
  process.once('SIGTERM', onSignal('SIGTERM'));
  const rows: Row[] = [];
  try {
    for (const n of [1, 2]) {
      const started = Date.now();
      const r = await run('npm', ['test', '--silent'], { ...process.env }, NPM_TEST_LIMIT_MS, true);
      const row = emptyRow(`npm test on a loaded machine (${burners.length} CPU burners), run ${n}, ${((Date.now() - started) / 60_000).toFixed(1)} min`);
      const m = /Tests:\s+(?:(\d+) failed, )?(?:(\d+) skipped, )?(?:\d+ todo, )?(?:(\d+) passed, )?(\d+) total/.exec(r.output);
      row.runs = Number(m?.[4] ?? 0);
      row.passed = Number(m?.[3] ?? 0);
      if (!m) row.problems.push('no jest summary line in the output');
      if (r.timedOut) row.problems.push(`npm test ran out of time (${NPM_TEST_LIMIT_MS / 60_000} min)`);
      if (r.code !== 0) row.problems.push(`npm test exited ${String(r.code)}: ${[...r.output.matchAll(/^\s+● (.+)$/gm)].map((x) => x[1]).slice(0, 10).join(' | ')}`);
      if (m?.[2]) row.runs -= Number(m[2]);
      rows.push(row);
    }
  } finally {
    killBurners();
  }
  return rows;
}

function table(rows: Row[]): string {
  const head = ['scenario', 'runs', 'passed', 'resources leaked', 'duplicates', 'orphans', 'dropped requests', 'secrets found', 'verdict'];
  const cell = (v: number | null) => (v === null ? '-' : String(v));
  const lines = rows.map((r) => [r.scenario, String(r.runs), String(r.passed), String(r.leaked), String(r.duplicates), String(r.orphans), cell(r.dropped), cell(r.secrets), rowPasses(r) ? 'pass' : 'FAIL']);
  return [head, head.map(() => '---'), ...lines].map((l) => `| ${l.join(' | ')} |`).join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const out = mkdtempSync(join(tmpdir(), 'champ-reliability-'));
  const started = Date.now();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CHAMP_RELIABILITY_OUT: out,
    CHAMP_RELIABILITY_SEED: args.seed,
    // The values the secrets scan looks for, in the environment of everything this run starts.
    AWS_ACCESS_KEY_ID: FAKE_SECRETS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_SECRETS.secretAccessKey,
    AWS_SESSION_TOKEN: FAKE_SECRETS.sessionToken,
  };
  const jest = resolve(ROOT, 'node_modules/.bin/jest');
  const file = args.quick ? 'test/reliability/subset.test.ts' : 'test/reliability/full.scenario.ts';
  const suite = await run(jest, ['--config', 'test/reliability/jest.config.js', '--runInBand', file], env, SUITE_LIMIT_MS);
  const rows: Row[] = readdirSync(out)
    .sort()
    .map((f) => JSON.parse(readFileSync(join(out, f), 'utf8')) as Row);
  rmSync(out, { recursive: true, force: true });
  if (suite.timedOut) rows.push({ ...emptyRow('the scenarios as a whole'), problems: [`ran out of the ${SUITE_LIMIT_MS / 60_000}-minute budget`] });
  else if (suite.code !== 0 && rows.every(rowPasses)) rows.push({ ...emptyRow('the scenarios as a whole'), problems: [`jest exited ${String(suite.code)}`] });
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  if (args.loaded) rows.push(...(await loadedRuns()));

  const text = table(rows);
  process.stdout.write(`\nreliability (${args.quick ? 'quick' : 'full'}, seed ${args.seed}, scenarios in ${minutes} min)\n\n${text}\n`);
  for (const r of rows.filter((x) => !rowPasses(x))) process.stdout.write(`\n${r.scenario}:\n${r.problems.map((p) => `  - ${p}`).join('\n')}\n`);
  if (args.markdown) writeFileSync(args.markdown, `${text}\n`);
  process.exit(rows.length > 0 && rows.every(rowPasses) ? 0 : 1);
}

void main();
