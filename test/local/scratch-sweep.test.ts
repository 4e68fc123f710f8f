// Process-mode scratch folders (a container's private /tmp, its output FIFOs)
// carry their control plane's pid; a start removes those whose process is gone.
import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { makeScratchDir, sweepStaleScratch } from '../../src/local/containers/scratch';
import { makeTempDir, removeDir } from './support';

let root: string;
beforeEach(async () => {
  root = await makeTempDir('scratch-sweep');
});
afterEach(async () => {
  await removeDir(root);
});

/** The pid of a process that has ended and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  const pid = child.pid!;
  await new Promise((r) => child.once('exit', r));
  return pid;
}

test('a start removes the scratch folders of a process that is gone, and keeps those of live processes and anything else', async () => {
  const sleeper = spawn('sleep', ['60']);
  try {
    const gone = await deadPid();
    const mine = await makeScratchDir('tmp', root);
    expect(path.basename(mine)).toMatch(new RegExp(`^champ-tmp-${process.pid}-[A-Za-z0-9]{6}$`));
    const dir = async (name: string) => {
      const p = path.join(root, name);
      await fsp.mkdir(path.join(p, 'inner'), { recursive: true });
      await fsp.writeFile(path.join(p, 'inner', 'gunicorn.sock'), '');
      return p;
    };
    const crashedTmp = await dir(`champ-tmp-${gone}-abc123`);
    const crashedIo = await dir(`champ-io-${gone}-XyZ789`);
    const liveOther = await dir(`champ-io-${sleeper.pid!}-Live01`);
    const oldUnowned = await dir('champ-tmp-Old001');
    const old = new Date(Date.now() - 3 * 24 * 3600 * 1000);
    await fsp.utimes(oldUnowned, old, old);
    const newUnowned = await dir('champ-tmp-New001');
    const unrelated = await dir(`champ-other-${gone}-abc123`);

    const removed = await sweepStaleScratch(root);
    expect(removed.sort()).toEqual([crashedIo, crashedTmp, oldUnowned].sort());
    for (const p of [mine, liveOther, newUnowned, unrelated]) expect(existsSync(p)).toBe(true);
    for (const p of removed) expect(existsSync(p)).toBe(false);
  } finally {
    sleeper.kill('SIGKILL');
  }
});

test('a sweep of a folder that cannot be read removes nothing and does not throw', async () => {
  await expect(sweepStaleScratch(path.join(root, 'missing'))).resolves.toEqual([]);
});
