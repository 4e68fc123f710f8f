// The control plane's state file: changes are written in batches (one write
// carries every change made until it starts), and nothing a caller was told
// is lost when the process is killed right after the answer.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CreateModelCommand, DescribeModelCommand, ListModelsCommand } from '@aws-sdk/client-sagemaker';
import { StateStore, type ModelRecord } from '../../src/local/state';
import { ROLE, spawnPlane } from './integration/helpers';
import { makeTempDir, removeDir } from './support';

let dir: string;
beforeAll(async () => {
  dir = await makeTempDir('state-batch');
});
afterAll(async () => {
  await removeDir(dir);
});

const model = (name: string): ModelRecord => ({ describe: { ModelName: name, ModelArn: `arn:aws:sagemaker:us-east-1:000000000000:model/${name}`, CreationTime: 1 } });

test('a hundred changes in one turn of the event loop make one write; flush() resolves once they are on disk', async () => {
  const root = path.join(dir, 'batch');
  const store = new StateStore(root);
  for (let i = 0; i < 100; i++) {
    store.data.models[`m${i}`] = model(`m${i}`);
    store.save();
  }
  await store.flush();
  expect(store.writes).toBe(1);
  const onDisk = JSON.parse(readFileSync(path.join(root, 'state.json'), 'utf8')) as { models: Record<string, unknown> };
  expect(Object.keys(onDisk.models)).toHaveLength(100);

  // A change while a write is under way is carried by the next one, and flush() waits for it.
  store.data.models.late = model('late');
  store.save();
  const writing = store.flush();
  store.data.models.later = model('later');
  store.save();
  await writing;
  await store.flush();
  expect(new StateStore(root).data.models.later).toBeDefined();
  expect(store.writes).toBeLessThanOrEqual(3);
  // Nothing changed: flush() does not write.
  const before = store.writes;
  await store.flush();
  expect(store.writes).toBe(before);
});

test('a frozen store writes nothing more (what a crash would leave)', async () => {
  const root = path.join(dir, 'frozen');
  const store = new StateStore(root);
  store.data.models.kept = model('kept');
  store.save();
  await store.flush();
  store.freeze();
  store.data.models.lost = model('lost');
  store.save();
  await store.flush();
  const reloaded = new StateStore(root);
  expect(reloaded.data.models.kept).toBeDefined();
  expect(reloaded.data.models.lost).toBeUndefined();
});

test('every CreateModel the control plane answered is on disk when answered, and survives a SIGKILL right after the answers', async () => {
  const home = path.join(dir, 'crash');
  const first = await spawnPlane(home, {});
  const onDisk = (): string[] => Object.keys((JSON.parse(readFileSync(path.join(home, 'local-sagemaker', 'state.json'), 'utf8')) as { models: Record<string, unknown> }).models);
  const names = Array.from({ length: 40 }, (_, i) => `crash-model-${i}`);
  const acknowledged: string[] = [];
  try {
    await Promise.all(
      names.map(async (name) => {
        await first.sm.send(new CreateModelCommand({ ModelName: name, ExecutionRoleArn: ROLE, PrimaryContainer: { Image: 'champ.local/none:1' } }));
        // The answer comes only once the record is on disk.
        expect(onDisk()).toContain(name);
        acknowledged.push(name);
      }),
    );
  } finally {
    // No graceful shutdown: the process is gone the moment the last answer is read.
    await first.kill();
  }
  expect(acknowledged).toHaveLength(names.length);
  const second = await spawnPlane(home, {});
  try {
    for (const name of acknowledged) {
      await expect(second.sm.send(new DescribeModelCommand({ ModelName: name }))).resolves.toMatchObject({ ModelName: name });
    }
    const listed = await second.sm.send(new ListModelsCommand({ MaxResults: 100 }));
    expect(listed.Models?.length).toBe(names.length);
  } finally {
    await second.kill();
  }
}, 90_000);
