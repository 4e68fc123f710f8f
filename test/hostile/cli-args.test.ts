// Bad arguments to every `champ` command: each is a usage error (exit 2)
// naming the argument, and nothing reaches Temporal. TEMPORAL_ADDRESS points
// at a loopback listener that counts connections: a command that got past its
// arguments would connect there, so zero connections means nothing started.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import fc from 'fast-check';
import { listLimit, modelVersion, pipelineName, pollSeconds, workflowId } from '../../src/cli/arguments';
import { champ } from './support';

jest.setTimeout(60_000);

let dir: string;
let server: Server;
let connections = 0;
const sockets = new Set<Socket>();
let env: NodeJS.ProcessEnv;
const MINIMAL = readFileSync(join(__dirname, '..', 'fixtures', 'specs', 'valid', 'minimal.yaml'), 'utf8');

/** Paths in the test folder by role; created in beforeAll. */
const at = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'champ-hostile-args-'));
  mkdirSync(at('data/train'), { recursive: true });
  writeFileSync(at('data/train/part-0.csv'), 'a,b\n1,2\n');
  // A valid spec whose data is here: a run refused with it is refused for its arguments alone.
  writeFileSync(at('spec.yaml'), MINIMAL.replace('s3://champ-data/minimal/train/', 'file://./data/train'));
  writeFileSync(at('no-data.yaml'), MINIMAL.replace('s3://champ-data/minimal/train/', 'file://./nothing-here'));
  mkdirSync(at('escaping/train'), { recursive: true });
  symlinkSync('/etc', at('escaping/train/etc'));
  writeFileSync(at('escaping.yaml'), MINIMAL.replace('s3://champ-data/minimal/train/', 'file://./escaping/train'));
  writeFileSync(at('no-schedule.yaml'), MINIMAL);
  symlinkSync('loop', at('loop'));
  execFileSync('mkfifo', [at('spec.fifo')]);
  server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  env = { TEMPORAL_ADDRESS: `127.0.0.1:${(server.address() as AddressInfo).port}`, CHAMP_TASK_QUEUE: 'hostile-args' };
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server?.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ID = 'claims-20261202T101500Z';
const LONG = 'x'.repeat(300);

/** [what, argv ('@x' is the test folder's file x), what the error must say]. */
const CASES: Array<[string, string[], RegExp]> = [
  // The program itself.
  ['no command', [], /Usage: champ/],
  ['an unknown command', ['deploy', '@spec.yaml'], /unknown command 'deploy'/],
  ['an unknown program option', ['--frobnicate', 'list'], /unknown option '--frobnicate'/],
  // validate
  ['validate without a spec', ['validate'], /missing required argument 'spec'/],
  ['validate with two specs', ['validate', '@spec.yaml', '@spec.yaml'], /too many arguments/],
  ['validate with an unknown option', ['validate', '--strict', '@spec.yaml'], /unknown option '--strict'/],
  ['validate of a file that does not exist', ['validate', '@absent.yaml'], /cannot read the spec file: no such file/],
  ['validate of an empty path', ['validate', ''], /cannot read the spec file/],
  ['validate of a folder', ['validate', '@data'], /cannot read the spec file: it is a folder/],
  ['validate of /dev/zero', ['validate', '/dev/zero'], /dev\/zero/],
  ['validate of a link loop', ['validate', '@loop'], /cannot read the spec file/],
  ['validate of a path with shell metacharacters', ['validate', '$(touch /tmp/champ-pwned);`id`|cat>x'], /cannot read the spec file: no such file/],
  // run
  ['run without a spec', ['run'], /missing required argument 'spec'/],
  ['run of a file that does not exist', ['run', '@absent.yaml'], /cannot read the spec file: no such file/],
  ['run of a folder', ['run', '@data'], /it is a folder/],
  ['run with an id holding shell metacharacters', ['run', '@spec.yaml', '--id', 'x; rm -rf ~'], /a workflow id is 1 to 256 letters/],
  ['run with an id holding a newline', ['run', '@spec.yaml', '--id', 'x\ny'], /a workflow id is/],
  ['run with an empty id', ['run', '@spec.yaml', '--id', ''], /a workflow id is/],
  ['run with a 300-character id', ['run', '@spec.yaml', '--id', LONG], /a workflow id is 1 to 256/],
  ['run with an id that reads as an option', ['run', '@spec.yaml', '--id', '-rf'], /a workflow id is|argument missing/],
  ['run with --poll-seconds as text', ['run', '@spec.yaml', '--poll-seconds', 'fast'], /--poll-seconds must be a number of seconds from 0.1 to 3600, got "fast"/],
  ['run with --poll-seconds 0', ['run', '@spec.yaml', '--poll-seconds', '0'], /--poll-seconds must be/],
  ['run with --poll-seconds Infinity', ['run', '@spec.yaml', '--poll-seconds', 'Infinity'], /--poll-seconds must be/],
  ['run with --poll-seconds of a trillion', ['run', '@spec.yaml', '--poll-seconds', '1e12'], /--poll-seconds must be/],
  ['run with --poll-seconds of a microsecond', ['run', '@spec.yaml', '--poll-seconds', '0.000001'], /--poll-seconds must be/],
  ['run with --poll-seconds empty', ['run', '@spec.yaml', '--poll-seconds', ''], /--poll-seconds must be/],
  ['run with an unknown option', ['run', '@spec.yaml', '--dry-run'], /unknown option '--dry-run'/],
  ['run whose training data is missing', ['run', '@no-data.yaml'], /the training data cannot be used\n.*training\.inputs\[0\]\.uri: .*does not exist/],
  ['run whose training data links out of its folder', ['run', '@escaping.yaml'], /the training data cannot be used\n.*training\.inputs\[0\]\.uri/],
  // status, cancel
  ['status without an id', ['status'], /missing required argument 'workflowId'/],
  ['status of an id with shell metacharacters', ['status', 'a;reboot'], /a workflow id is/],
  ['status of an id with a command substitution', ['status', '$(id)'], /a workflow id is/],
  ['status of an empty id', ['status', ''], /a workflow id is/],
  ['status of a 300-character id', ['status', LONG], /a workflow id is 1 to 256/],
  ['status with an unknown option', ['status', ID, '--yaml'], /unknown option '--yaml'/],
  ['cancel without an id', ['cancel'], /missing required argument 'workflowId'/],
  ['cancel of an id with a pipe', ['cancel', 'a|b'], /a workflow id is/],
  ['cancel of two ids', ['cancel', ID, ID], /too many arguments/],
  // list
  ['list --limit 0', ['list', '--limit', '0'], /--limit must be a whole number of at least 1, got "0"/],
  ['list --limit -5', ['list', '--limit', '-5'], /--limit must be a whole number|argument missing/],
  ['list --limit as text', ['list', '--limit', 'all'], /--limit must be a whole number/],
  ['list --limit 1.5', ['list', '--limit', '1.5'], /--limit must be a whole number/],
  ['list --limit of ten billion', ['list', '--limit', '10000000000'], /--limit must be .*at most 1000/],
  ['list --pipeline with a quote', ['list', '--pipeline', "x' OR WorkflowType != '"], /a pipeline name is/],
  ['list --pipeline of 300 characters', ['list', '--pipeline', LONG], /a pipeline name is 1 to 32/],
  ['list with a stray argument', ['list', 'claims'], /too many arguments/],
  // approve, reject
  ['approve without an id', ['approve', '--version', '1', '--reviewer', 'al'], /missing required argument 'workflowId'/],
  ['approve without --version', ['approve', ID, '--reviewer', 'al'], /required option '--version <n>' not specified/],
  ['approve without --reviewer', ['approve', ID, '--version', '1'], /required option '--reviewer <name>' not specified/],
  ['approve --version 0', ['approve', ID, '--version', '0', '--reviewer', 'al'], /--version must be a positive whole number/],
  ['approve --version latest', ['approve', ID, '--version', 'latest', '--reviewer', 'al'], /--version must be a positive whole number/],
  ['approve --version 2.5', ['approve', ID, '--version', '2.5', '--reviewer', 'al'], /--version must be a positive whole number/],
  ['approve --version 1e3', ['approve', ID, '--version', '1e3', '--reviewer', 'al'], /--version must be a positive whole number/],
  ['approve --version past the safe integers', ['approve', ID, '--version', '99999999999999999999', '--reviewer', 'al'], /--version must be a positive whole number/],
  ['approve of an id with a backtick', ['approve', 'a`id`', '--version', '1', '--reviewer', 'al'], /a workflow id is/],
  ['approve with a blank reviewer', ['approve', ID, '--version', '1', '--reviewer', ' '], /--reviewer is required/],
  ['approve with a 5000-character comment', ['approve', ID, '--version', '1', '--reviewer', 'al', '--comment', 'c'.repeat(5000)], /--comment is 5000 characters; the model registry keeps 1000/],
  ['approve with a blank comment', ['approve', ID, '--version', '1', '--reviewer', 'al', '--comment', '  '], /--comment is required: leave it out/],
  ['approve with --reason (a reject option)', ['approve', ID, '--version', '1', '--reviewer', 'al', '--reason', 'x'], /unknown option '--reason'/],
  ['reject without --reason', ['reject', ID, '--version', '1', '--reviewer', 'al'], /--reason is required/],
  ['reject with a 2000-character reason', ['reject', ID, '--version', '1', '--reviewer', 'al', '--reason', 'r'.repeat(2000)], /--reason is 2000 characters/],
  ['reject with a 2000-character reviewer', ['reject', ID, '--version', '1', '--reviewer', 'r'.repeat(2000), '--reason', 'x'], /--reviewer is 2000 characters/],
  // schedule
  ['schedule without a subcommand', ['schedule'], /Usage: champ schedule/],
  ['schedule with an unknown subcommand', ['schedule', 'run', 'claims'], /unknown command 'run'/],
  ['schedule apply without a spec', ['schedule', 'apply'], /missing required argument 'spec'/],
  ['schedule apply of a file that does not exist', ['schedule', 'apply', '@absent.yaml'], /no such file/],
  ['schedule apply of a folder', ['schedule', 'apply', '@data'], /it is a folder/],
  ['schedule apply of a spec without a schedule', ['schedule', 'apply', '@no-schedule.yaml'], /has no schedule section/],
  ['schedule trigger without a name', ['schedule', 'trigger'], /missing required argument 'name\|id'/],
  ['schedule trigger of a name with shell metacharacters', ['schedule', 'trigger', 'claims && reboot'], /give a pipeline name/],
  ['schedule pause of an empty name', ['schedule', 'pause', ''], /give a pipeline name/],
  ['schedule unpause of a bare prefix', ['schedule', 'unpause', 'champ-'], /give a pipeline name/],
  ['schedule delete of a path', ['schedule', 'delete', '../../etc/passwd'], /give a pipeline name/],
  ['schedule delete with an unknown option', ['schedule', 'delete', 'claims', '--force'], /unknown option '--force'/],
];

describe('champ with bad arguments', () => {
  it('has a case for every command', () => {
    const commands = new Set(CASES.map(([, argv]) => (argv[0] === 'schedule' ? `schedule ${argv[1] ?? ''}`.trim() : argv[0])));
    for (const c of ['validate', 'run', 'status', 'list', 'cancel', 'approve', 'reject', 'schedule', 'schedule apply', 'schedule trigger', 'schedule pause', 'schedule unpause', 'schedule delete']) {
      expect(commands).toContain(c);
    }
  });

  it.each(CASES)('refuses %s with exit 2, naming it, and connects nowhere', async (_what, argv, message) => {
    const before = connections;
    const r = await champ(
      argv.map((a) => (a.startsWith('@') ? at(a.slice(1)) : a)),
      env,
    );
    expect(r.err.join('\n')).toMatch(message);
    expect(r.code).toBe(2);
    expect(r.out.filter((l) => !/^(Usage|Options|Commands|Arguments|\s|$)/.test(l) && !l.includes('  '))).toEqual([]);
    expect(connections - before).toBe(0);
  });

  it('did not run anything the arguments held', () => {
    expect(() => readFileSync('/tmp/champ-pwned')).toThrow();
  });
});

const CHAMP_BIN = resolve(__dirname, '../../bin/champ.js');

/** A command in its own process: a read that never ends must not hang this one. */
function inProcess(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 30_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end();
  });
}

describe('champ validate of pipes', () => {
  it('refuses a named pipe that nothing writes to, at once, instead of waiting forever', async () => {
    const r = await inProcess(process.execPath, [CHAMP_BIN, 'validate', at('spec.fifo')]);
    expect(r.stderr.trim()).toBe(`champ: ${at('spec.fifo')}: cannot read the spec file: it is a named pipe, and nothing says when its writer comes; write the spec to a file`);
    expect(r.code).toBe(2);
  });

  it('still reads a spec from an open pipe (bash process substitution, /dev/fd/N)', async () => {
    // Paths reach bash as positional parameters, never inside the script text.
    const r = await inProcess('bash', ['-c', '"$1" "$2" validate <(cat "$3")', 'champ-test', process.execPath, CHAMP_BIN, at('spec.yaml')]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/valid pipeline "minimal"/);
    expect(r.code).toBe(0);
  });
});

describe('the argument checks, fuzzed', () => {
  // Any string: each check returns its value unchanged or refuses it with commander's InvalidArgumentError (exit 2), never anything else.
  const checks: Array<[string, (raw: string) => unknown, (raw: string, value: unknown) => boolean]> = [
    ['workflowId', workflowId, (raw, v) => v === raw && /^[A-Za-z0-9][A-Za-z0-9._:@+=/-]*$/.test(raw) && raw.length <= 256],
    ['pipelineName', pipelineName, (raw, v) => v === raw && /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/.test(raw)],
    ['listLimit', listLimit, (_raw, v) => Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= 1000],
    ['pollSeconds', pollSeconds, (_raw, v) => typeof v === 'number' && v >= 0.1 && v <= 3600],
    ['modelVersion', modelVersion, (_raw, v) => Number.isSafeInteger(v) && (v as number) >= 1],
  ];
  it.each(checks)('%s: any text is taken as it is or refused as a bad argument', (_name, check, valid) => {
    const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('1', '0', '-1', '1e3', ' 7 ', '0x10', 'NaN', 'Infinity', '3600.0001', '0.1', 'a-b', 'champ-x', '$(id)'));
    fc.assert(
      fc.property(text, (raw) => {
        try {
          const value = check(raw);
          expect(valid(raw, value)).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidArgumentError);
          expect((err as Error).message).toMatch(/--limit|--poll-seconds|--version|workflow id|pipeline name/);
        }
      }),
      { seed: 20_261_202, numRuns: 500 },
    );
  });
});
