// Raw workflow inputs started with the `temporal` CLI, as someone would who
// skips `champ run`: every one must end, bounded in time, as a failed run
// whose message names the field to fix (input.spec..., input.poll...,
// input.trigger ...), with nothing made in the control plane.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { WorkflowFailedError } from '@temporalio/client';
import { startE2e, uniqueSuffix, type E2eEnv } from '../e2e/helpers';
import { failureChain, inBatches, inventory, NOTHING, scheduledActivities, startWorker, temporal, within, type RunningWorker } from './support';

jest.setTimeout(120_000);

/** How long one run may take to end; they run side by side, so this bounds the whole corpus. */
const END_WITHIN_MS = 45_000;

interface Case {
  name: string;
  /** The --input JSON, as text: some cases (duplicate or __proto__ keys) are not expressible as values. */
  json: string;
  /** What the failure's messages must contain: the field, written as the input holds it. */
  names: string | RegExp;
  /** Refused by the temporal CLI or the server before any run exists: what the refusal says. */
  refusedAtStart?: RegExp;
}

let env: E2eEnv;
let worker: RunningWorker;
let dir: string;

beforeAll(async () => {
  env = await startE2e();
  worker = await startWorker({ activities: env.activities });
  dir = mkdtempSync(join(tmpdir(), 'champ-hostile-'));
});

afterAll(async () => {
  await worker?.stop();
  await env?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A placeholder replaced by JSON nested `depth` objects deep (JSON.stringify itself would run out of stack). */
const NESTED = '"<nested>"';
function withNested(json: string, depth: number): string {
  return json.replace(NESTED, `${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}`);
}

type Json = Record<string, unknown>;

/** A valid spec: each case damages it, or the input around it, in one place. */
const spec = parseYaml(readFileSync(join(__dirname, '..', 'fixtures', 'specs', 'valid', 'minimal.yaml'), 'utf8')) as Json;

function corpus(): Case[] {
  const input = (over: Record<string, unknown> = {}) => JSON.stringify({ spec, trigger: 'manual', requestedBy: 'hostile', poll: { initialSeconds: 0.2, maxSeconds: 1 }, ...over });
  /**
   * A bad field outside the spec, with a spec that is refused too: until the
   * workflow checks these fields itself, the spec's refusal ends the run
   * instead of a whole pipeline running on the bad input.
   */
  const around = (over: Record<string, unknown>) => input({ spec: { ...spec, deployment: { ...(spec.deployment as Json), instanceCount: 0 } }, ...over });
  /** The input with one spec field replaced (path a.b.c; undefined deletes it). */
  const specWith = (path: string, value: unknown) => {
    const copy = JSON.parse(JSON.stringify(spec)) as Json;
    const keys = path.split('.');
    let at = copy;
    for (const k of keys.slice(0, -1)) at = (at[k] ??= {}) as Json;
    if (value === undefined) delete at[keys[keys.length - 1]!];
    else at[keys[keys.length - 1]!] = value;
    return input({ spec: copy });
  };
  const big = 'a'.repeat(1024 * 1024);
  const cases: Case[] = [
    // The input itself.
    { name: 'null', json: 'null', names: 'input.spec' },
    { name: 'an empty array', json: '[]', names: 'input.spec' },
    { name: 'the input inside an array', json: `[${input()}]`, names: 'input.spec' },
    { name: 'a string', json: '"claims"', names: 'input.spec' },
    { name: 'a number', json: '42', names: 'input.spec' },
    { name: 'true', json: 'true', names: 'input.spec' },
    { name: 'an empty object', json: '{}', names: 'input.spec' },
    { name: 'a null spec', json: input({ spec: null }), names: 'input.spec' },
    { name: 'the spec under "Spec"', json: JSON.stringify({ Spec: spec }), names: 'input.spec' },
    // The spec as something else than a spec.
    { name: 'the spec as YAML text', json: input({ spec: 'name: claims\nimage:\n  uri: x\n' }), names: 'input.spec' },
    { name: 'the spec as a number', json: input({ spec: 7 }), names: 'input.spec' },
    { name: 'the spec as true', json: input({ spec: true }), names: 'input.spec' },
    { name: 'the spec as an empty array', json: input({ spec: [] }), names: 'input.spec' },
    { name: 'the spec inside an array', json: input({ spec: [spec] }), names: 'input.spec' },
    { name: 'an empty spec', json: input({ spec: {} }), names: 'input.spec.name' },
    // Wrong types, missing fields, names SageMaker refuses, absurd values.
    { name: 'a numeric name', json: specWith('name', 42), names: 'input.spec.name' },
    { name: 'an empty name', json: specWith('name', ''), names: 'input.spec.name' },
    // The whole spec is then over its 1 MiB limit: the refusal names the spec.
    { name: 'a 1 MiB name', json: specWith('name', big), names: 'input.spec' },
    { name: 'a 3000-character name', json: specWith('name', 'a'.repeat(3000)), names: 'input.spec.name' },
    { name: 'a name with shell metacharacters', json: specWith('name', 'claims; rm -rf / #'), names: 'input.spec.name' },
    { name: 'a name with a NUL', json: specWith('name', 'claims\u0000x'), names: 'input.spec.name' },
    { name: 'a name that is an object', json: specWith('name', { $gt: '' }), names: 'input.spec.name' },
    { name: 'no image', json: specWith('image', undefined), names: 'input.spec.image' },
    { name: 'a null image', json: specWith('image', null), names: 'input.spec.image' },
    { name: 'an image URI that reads as an option', json: specWith('image', { uri: '--privileged' }), names: 'input.spec.image.uri' },
    { name: 'an image URI that is a number', json: specWith('image', { uri: 5 }), names: 'input.spec.image.uri' },
    { name: 'an image context that is a number', json: specWith('image', { context: 12 }), names: 'input.spec.image.context' },
    { name: 'training as a string', json: specWith('training', 'lots'), names: 'input.spec.training' },
    { name: 'no training inputs', json: specWith('training.inputs', []), names: 'input.spec.training.inputs' },
    { name: 'training inputs as an object', json: specWith('training.inputs', { train: 's3://b/k/' }), names: 'input.spec.training.inputs' },
    { name: 'an http:// training input', json: specWith('training.inputs', [{ name: 'train', uri: 'http://169.254.169.254/latest/' }]), names: 'input.spec.training.inputs[0].uri' },
    { name: 'an instance count as text', json: specWith('training.instanceCount', '1'), names: 'input.spec.training.instanceCount' },
    { name: 'a million training instances', json: specWith('training.instanceCount', 1_000_000), names: 'input.spec.training.instanceCount' },
    { name: 'an instance type with a shell command', json: specWith('training.instanceType', 'ml.m5.large; reboot'), names: 'input.spec.training.instanceType' },
    { name: 'nested hyperparameters', json: specWith('training.hyperparameters', { depth: { max: 6 } }), names: 'input.spec.training.hyperparameters' },
    { name: 'an environment value over its limit', json: specWith('training.environment', { BIG: 'v'.repeat(600) }), names: 'input.spec.training.environment.BIG' },
    { name: 'a spec of over 1 MiB', json: specWith('training.environment', { BIG: big }), names: 'input.spec: the spec holds more than 1 MiB' },
    { name: 'a backtracking metric regex', json: specWith('training.metrics', [{ name: 'gini', regex: 'gini=((\\d*)*)x' }]), names: 'input.spec.training.metrics[0].regex' },
    { name: 'no deployment', json: specWith('deployment', undefined), names: 'input.spec.deployment' },
    { name: 'an endpoint name SageMaker refuses', json: specWith('deployment.endpointName', 'Bad_Endpoint!'), names: 'input.spec.deployment.endpointName' },
    { name: 'an endpoint name that is an object', json: specWith('deployment.endpointName', { x: 1 }), names: 'input.spec.deployment.endpointName' },
    { name: 'a negative deployment instance count', json: specWith('deployment.instanceCount', -1), names: 'input.spec.deployment.instanceCount' },
    { name: 'CR/LF in the smoke test Accept header', json: specWith('deployment.smokeTest', { accept: 'application/json\r\nX-Evil: 1', body: '{}' }), names: 'input.spec.deployment.smokeTest.accept' },
    { name: 'an approval timeout of 99999999d', json: specWith('approval', { required: true, timeout: '99999999d' }), names: 'input.spec.approval.timeout' },
    { name: 'approval.required as "yes"', json: specWith('approval', { required: 'yes' }), names: 'input.spec.approval.required' },
    { name: 'a training timeout of "forever"', json: specWith('timeouts.training', 'forever'), names: 'input.spec.timeouts.training' },
    { name: 'an input of 5 MiB', json: specWith('description', 'd'.repeat(5 * 1024 * 1024)), names: 'input', refusedAtStart: /size|exceed|too large|larger than/i },
    { name: 'JSON nested 20000 deep', json: withNested(specWith('tags', '<nested>'), 20_000), names: 'input.spec.tags', refusedAtStart: /not valid JSON|depth/i },
    { name: 'tags nested 5000 deep', json: withNested(specWith('tags', '<nested>'), 5000), names: 'input.spec.tags' },
    { name: 'an unknown spec field', json: specWith('extra', { anything: true }), names: 'input.spec.extra' },
    { name: 'a __proto__ key in the spec', json: input().replace('{"spec":{', '{"spec":{"__proto__":{"polluted":true},'), names: 'input.spec' },
    // Fields outside the spec.
    { name: 'poll.initialSeconds negative', json: input({ poll: { initialSeconds: -1 } }), names: /\bpoll\.initialSeconds\b/ },
    { name: 'poll.initialSeconds as text', json: input({ poll: { initialSeconds: '1' } }), names: /\bpoll\.initialSeconds\b/ },
    { name: 'poll.initialSeconds of a microsecond', json: around({ poll: { initialSeconds: 0.000001 } }), names: /\bpoll\.initialSeconds\b/ },
    { name: 'poll.initialSeconds of 1e300', json: around({ poll: { initialSeconds: 1e300 } }), names: /\bpoll\.initialSeconds\b/ },
    { name: 'poll.maxSeconds of a trillion', json: around({ poll: { maxSeconds: 1e12 } }), names: /\bpoll\.maxSeconds\b/ },
    { name: 'poll as text', json: around({ poll: 'fast' }), names: /\binput\.poll\b/ },
    { name: 'poll as an array', json: around({ poll: [1, 2] }), names: /\binput\.poll\b/ },
    { name: 'trigger as a number', json: around({ trigger: 5 }), names: 'input.trigger' },
    { name: 'trigger "cron"', json: around({ trigger: 'cron' }), names: 'input.trigger' },
    { name: 'requestedBy as a number', json: around({ requestedBy: 42 }), names: 'input.requestedBy' },
    { name: 'requestedBy of 1 MiB', json: around({ requestedBy: big }), names: 'input.requestedBy' },
    { name: 'an unknown input field', json: around({ dataFingerprint: 'sha256:forged' }), names: 'input.dataFingerprint' },
    { name: 'junk nested 5000 deep beside the spec', json: withNested(around({ junk: '<nested>' }), 5000), names: 'input.junk' },
  ];
  return cases;
}

const CASES = corpus();

interface Ended {
  /** How the start went: 'started', or the temporal CLI's refusal. */
  start: string;
  status?: 'FAILED' | 'COMPLETED' | 'NEVER ENDED';
  messages?: string;
  activities?: string[];
}

const ended = new Map<string, Ended>();

async function runCase(c: Case, i: number, suffix: string): Promise<Ended> {
  const file = join(dir, `input-${i}.json`);
  writeFileSync(file, c.json);
  const workflowId = `hostile-${suffix}-${i}`;
  const start = await temporal(['workflow', 'start', '--type', 'trainingPipeline', '--task-queue', worker.taskQueue, '--workflow-id', workflowId, '--input-file', file]);
  if (start.code !== 0) return { start: `temporal refused to start it: ${start.stderr.trim()}` };
  const handle = worker.client.workflow.getHandle(workflowId);
  const result = await within(
    handle.result().then(
      () => ({ status: 'COMPLETED' as const }),
      (err: unknown) => ({ status: 'FAILED' as const, messages: failureChain(err instanceof WorkflowFailedError ? err.cause : err) }),
    ),
    END_WITHIN_MS,
  );
  if (result === 'timed out') {
    await handle.terminate('hostile-input test: the run did not end in time').catch(() => undefined);
    return { start: 'started', status: 'NEVER ENDED' };
  }
  return { start: 'started', ...result, activities: await scheduledActivities(worker.client, workflowId) };
}

/** One line saying how a case went wrong, or undefined when it was refused as it should be. */
function verdict(c: Case): string | undefined {
  const e = ended.get(c.name);
  if (!e) return 'not run';
  if (c.refusedAtStart) return c.refusedAtStart.test(e.start) ? undefined : `expected the start to be refused, got: ${e.start} ${e.status ?? ''} ${e.messages ?? ''}`.slice(0, 400);
  if (e.status !== 'FAILED') return `${e.status ?? e.start}`;
  const named = typeof c.names === 'string' ? e.messages!.includes(c.names) : c.names.test(e.messages!);
  if (!named) return `failed without naming ${String(c.names)}: ${JSON.stringify(e.messages!.slice(0, 400))}`;
  const work = (e.activities ?? []).filter((a) => a !== 'validateSpec');
  if (work.length > 0) return `refused only after ${work.join(', ')}`;
  return undefined;
}

describe('raw workflow inputs through the temporal CLI', () => {
  beforeAll(async () => {
    const suffix = uniqueSuffix();
    // All runs side by side on the one worker: the corpus costs about one run's wait.
    await inBatches(CASES, 8, async (c, i) => ended.set(c.name, await runCase(c, i, suffix)));
  });

  it('has at least 50 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(50);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('refuses %s, naming the field, before any work', (_name, c) => {
    expect(verdict(c)).toBeUndefined();
  });

  it('made nothing in the control plane or the image store', async () => {
    expect(await inventory(env.sagemakerClient, env.imageStore)).toEqual(NOTHING);
  });
});
