import * as path from 'node:path';
import { ContainerLauncher, liveContainerPids, namespaceIsolationAvailable, type IsolationMode } from '../../../src/local/containers';
import { LocalEndpointRuntime } from '../../../src/local/endpoint-runtime';
import { snapshotContext } from '../../../src/artifacts/image-store';
import { EndpointRuntimeError, type VariantSpec } from '../../../src/local/runtime';
import { writeContext, writeModelArchive } from './fixtures';
import { isProcessAlive, makeTempDir, removeDir } from '../support';

let root: string;
let store: string;
let imageUri: string;
let modelV1: string;
let modelV2: string;
const runtimes: LocalEndpointRuntime[] = [];

beforeAll(async () => {
  root = await makeTempDir('endpoints');
  store = path.join(root, 'store');
  const ctx = await writeContext(path.join(root, 'ctx'));
  imageUri = (await snapshotContext({ contextDir: ctx, repository: 'fixture', store })).imageUri;
  modelV1 = await writeModelArchive(root, 'v1');
  modelV2 = await writeModelArchive(root, 'v2');
});

afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.shutdown()));
});

afterAll(async () => {
  await removeDir(root);
});

function newRuntime(isolation: IsolationMode = 'env'): LocalEndpointRuntime {
  const rt = new LocalEndpointRuntime({
    workDir: path.join(root, 'work'),
    launcher: new ContainerLauncher({ imageStore: store, isolation }),
    stopGraceMs: 1_000,
    drainTimeoutMs: 5_000,
  });
  runtimes.push(rt);
  return rt;
}

function variant(name: string, modelDataUrl: string, extra: Partial<VariantSpec> = {}): VariantSpec {
  return {
    variantName: name,
    modelName: `model-${name}`,
    imageUri,
    modelDataUrl,
    environment: {},
    initialInstanceCount: 1,
    initialVariantWeight: 1,
    ...extra,
  };
}

function pidsOf(rt: LocalEndpointRuntime, endpoint: string): number[] {
  return rt.status(endpoint)?.variants.flatMap((v) => v.instances.map((i) => i.pid)) ?? [];
}

const HEALTH = { healthTimeoutMs: 10_000 };

describe('LocalEndpointRuntime', () => {
  it.each(['env', 'namespace'] as const)('deploys in %s isolation and answers invocations from the unpacked model', async (mode) => {
    if (mode === 'namespace' && !(await namespaceIsolationAvailable())) {
      console.warn('skipping namespace isolation: not available here');
      return;
    }
    const rt = newRuntime(mode);
    const v = variant('AllTraffic', modelV1, mode === 'namespace' ? { environment: { USE_OPT_ML: '1' } } : {});
    await rt.deploy('ep', 'cfg-1', [v], HEALTH);
    expect(rt.isServing('ep')).toBe(true);

    const res = await rt.invoke('ep', { body: Buffer.from('1,2,3'), contentType: 'text/csv', accept: 'application/json' });
    expect(res).toMatchObject({ status: 200, contentType: 'application/json', invokedVariant: 'AllTraffic' });
    expect(res.body.toString()).toBe('v1|1,2,3');

    const unsupported = await rt.invoke('ep', { body: Buffer.from('x'), contentType: 'application/unsupported' });
    expect(unsupported.status).toBe(415);
    expect(rt.status('ep')!.configName).toBe('cfg-1');
  });

  it('routes to the target variant and splits traffic by weight', async () => {
    const rt = newRuntime();
    await rt.deploy('ep-split', 'cfg', [variant('A', modelV1, { initialVariantWeight: 3 }), variant('B', modelV2, { initialVariantWeight: 1 })], HEALTH);
    const targeted = await rt.invoke('ep-split', { body: Buffer.from('q'), targetVariant: 'B' });
    expect(targeted.body.toString()).toBe('v2|q');
    expect(targeted.invokedVariant).toBe('B');

    const counts: Record<string, number> = { A: 0, B: 0 };
    for (let i = 0; i < 200; i++) counts[(await rt.invoke('ep-split', { body: Buffer.from('q') })).invokedVariant]!++;
    expect(counts.A).toBeGreaterThan(110);
    expect(counts.B).toBeGreaterThan(20);

    await expect(rt.invoke('ep-split', { body: Buffer.from('q'), targetVariant: 'C' })).rejects.toMatchObject({ code: 'VariantNotFound' });
  });

  it('switches to a new variant under a steady stream of requests without losing one, then stops the old one', async () => {
    const rt = newRuntime();
    const slow = { environment: { SERVE_DELAY_MS: '5' } };
    await rt.deploy('ep-roll', 'cfg-1', [variant('Blue', modelV1, slow)], HEALTH);
    const oldPids = pidsOf(rt, 'ep-roll');

    let stop = false;
    let afterDeploy = Number.POSITIVE_INFINITY;
    let tick = 0;
    let firstV2Tick = Number.POSITIVE_INFINITY;
    const seen: Array<{ startTick: number; body: string }> = [];
    const failures: unknown[] = [];
    const worker = async (): Promise<void> => {
      const enough = (): boolean => stop && tick >= 600 && tick >= afterDeploy + 100;
      while (!enough() && tick < 20_000) {
        const startTick = tick++;
        try {
          const res = await rt.invoke('ep-roll', { body: Buffer.from('x'), contentType: 'text/plain' });
          const body = res.body.toString();
          if (res.status !== 200) failures.push(res.status);
          else seen.push({ startTick, body });
          if (body === 'v2|x' && firstV2Tick === Number.POSITIVE_INFINITY) firstV2Tick = tick;
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const workers = Array.from({ length: 6 }, () => worker());
    // The stream reaches the old variant before the switch begins, however slow the machine.
    const deadline = Date.now() + 30_000;
    while (seen.filter((x) => x.body === 'v1|x').length < 20 && failures.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await rt.deploy('ep-roll', 'cfg-2', [variant('Green', modelV2, slow)], HEALTH);
    afterDeploy = tick;
    stop = true;
    await Promise.all(workers);

    expect(failures).toEqual([]);
    expect(seen.length).toBeGreaterThanOrEqual(600);
    expect(seen.filter((s) => s.body === 'v1|x').length).toBeGreaterThan(0);
    // The switch is one step: no request that started after a v2 answer, or after deploy() returned, reached v1.
    expect(seen.filter((s) => s.startTick >= Math.min(firstV2Tick, afterDeploy) && s.body !== 'v2|x')).toEqual([]);
    expect(seen.filter((s) => s.startTick >= afterDeploy).length).toBeGreaterThan(0);
    expect(rt.status('ep-roll')!.configName).toBe('cfg-2');
    expect(oldPids.filter(isProcessAlive)).toEqual([]);
  });

  it('keeps the old variant serving when the new one never passes the ping health check', async () => {
    const rt = newRuntime();
    await rt.deploy('ep-bad', 'cfg-1', [variant('Good', modelV1)], HEALTH);
    const before = liveContainerPids();

    await expect(
      rt.deploy('ep-bad', 'cfg-2', [variant('Sick', modelV2, { environment: { SERVE_MODE: 'never' } })], { healthTimeoutMs: 4_000 }),
    ).rejects.toThrow(/^The primary container for production variant Sick did not pass the ping health check \(no 200 from GET \/ping within 4 s\)[\s\S]*serving model=v2/);

    expect(rt.status('ep-bad')!.configName).toBe('cfg-1');
    expect((await rt.invoke('ep-bad', { body: Buffer.from('still') })).body.toString()).toBe('v1|still');
    // The failed variant's process is gone; only what served before remains.
    expect(liveContainerPids().sort()).toEqual(before.sort());
  });

  it('rejects a deploy whose model archive is missing, naming the URL', async () => {
    const rt = newRuntime();
    await expect(rt.deploy('ep-nomodel', 'cfg', [variant('A', `file://${root}/nope.tar.gz`)], HEALTH)).rejects.toThrow(
      /Failed to extract model data archive from URL "file:\/\/.*nope\.tar\.gz" for production variant A/,
    );
    expect(rt.isServing('ep-nomodel')).toBe(false);
  });

  it('answers with a ContainerFailed error when the serving process has died', async () => {
    const rt = newRuntime();
    await rt.deploy('ep-dies', 'cfg', [variant('A', modelV1)], HEALTH);
    const [pid] = pidsOf(rt, 'ep-dies');
    process.kill(pid!, 'SIGKILL');
    await waitUntil(() => !rt.isServing('ep-dies'));
    const err = await rt.invoke('ep-dies', { body: Buffer.from('x') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EndpointRuntimeError);
    expect(err).toMatchObject({ code: 'ContainerFailed' });
    expect((err as Error).message).toMatch(/The primary container for production variant A is not running/);
  });

  it('remove() and shutdown() leave no process behind', async () => {
    const rt = newRuntime();
    await rt.deploy('ep-a', 'cfg', [variant('A', modelV1, { initialInstanceCount: 2 })], HEALTH);
    await rt.deploy('ep-b', 'cfg', [variant('B', modelV2)], HEALTH);
    const a = pidsOf(rt, 'ep-a');
    const b = pidsOf(rt, 'ep-b');
    expect(a).toHaveLength(2);
    expect([...a, ...b].every(isProcessAlive)).toBe(true);

    await rt.remove('ep-a');
    expect(a.filter(isProcessAlive)).toEqual([]);
    expect(rt.isServing('ep-a')).toBe(false);
    await expect(rt.invoke('ep-a', { body: Buffer.from('x') })).rejects.toMatchObject({ code: 'EndpointNotServing' });

    await rt.shutdown();
    expect(b.filter(isProcessAlive)).toEqual([]);
    expect(liveContainerPids()).toEqual([]);
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
