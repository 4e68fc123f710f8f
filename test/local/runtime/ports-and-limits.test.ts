import { createServer, type Server } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { DEFAULT_PORT_RANGE, limitsForInstanceType, parsePortRange, PortAllocator, type PortRange } from '../../../src/local/containers';
import { loadLocalConfig } from '../../../src/local/config';

const listen = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });

describe('PortAllocator', () => {
  // A range of its own per test run, inside the default range, so parallel runs rarely meet.
  const first = 30000 + (process.pid % 2000);
  const range = parsePortRange(`${first}-${first + 2}`) as PortRange;

  it('hands out each port of its range once, skips one another program holds, and says which variable to widen when none is left', async () => {
    const other = await listen(first + 1);
    try {
      const ports = new PortAllocator(range);
      const got = await Promise.all([ports.allocate(), ports.allocate()]);
      expect(got.sort()).toEqual([first, first + 2]);
      await expect(ports.allocate()).rejects.toThrow(`no free port on 127.0.0.1 in CHAMP_LOCAL_PORT_RANGE=${first}-${first + 2}`);
      ports.release(first);
      expect(await ports.allocate()).toBe(first);
    } finally {
      other.close();
    }
  });

  it('never hands out a port of the kernel\'s ephemeral range by default', () => {
    const def = parsePortRange(DEFAULT_PORT_RANGE) as PortRange;
    expect(def.last).toBeLessThan(32768);
    expect(loadLocalConfig({}).CHAMP_LOCAL_PORT_RANGE).toEqual(def);
  });
});

describe('CPU and memory limits from the instance type (approximate)', () => {
  it('sizes by vCPU and families by memory per vCPU, never more than this machine has', () => {
    const gib = 1024 ** 3;
    expect(limitsForInstanceType('ml.m5.large')).toMatchObject({ cpus: Math.min(2, cpus().length), memoryBytes: Math.min(8 * gib, totalmem()) });
    expect(limitsForInstanceType('ml.c5.xlarge')).toMatchObject({ cpus: Math.min(4, cpus().length), memoryBytes: Math.min(8 * gib, totalmem()) });
    expect(limitsForInstanceType('ml.r5.2xlarge')?.memoryBytes).toBe(Math.min(64 * gib, totalmem()));
    expect(limitsForInstanceType('ml.m5.large')?.note).toMatch(/^ml\.m5\.large ~ 2 vCPU, 8 GiB \(approximate\)/);
  });

  it('gives none for a type it does not know', () => {
    expect(limitsForInstanceType('local')).toBeUndefined();
    expect(limitsForInstanceType('ml.q9.huge')).toBeUndefined();
    expect(limitsForInstanceType(undefined)).toBeUndefined();
  });
});
