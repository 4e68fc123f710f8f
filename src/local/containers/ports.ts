// Host ports for serving containers, from a configured range that stays clear of
// the kernel's ephemeral range (32768-60999 on Linux): a port picked there can be
// taken a moment later by any outgoing connection of the machine, and a port
// probed "free" by binding 0 was handed out by that same range.
import { createServer } from 'node:net';

export interface PortRange {
  first: number;
  last: number;
}

/** Below the kernel's ephemeral range, above the usual service ports. */
export const DEFAULT_PORT_RANGE = '30000-32767';

/** "first-last" as a range, or an error message saying what is wrong. */
export function parsePortRange(text: string): PortRange | string {
  const m = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(text);
  if (!m) return 'is not a port range such as 30000-32767';
  const first = Number(m[1]);
  const last = Number(m[2]);
  if (first < 1024 || last > 65535) return 'must lie within 1024-65535';
  if (first > last) return 'starts after it ends: write the lower port first';
  return { first, last };
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * Hands out ports of one range, each to one holder until released. A port is
 * handed out only if it can be bound on 127.0.0.1 right now, and the cursor
 * moves on, so a port just released is the last to be reused.
 */
export class PortAllocator {
  private readonly held = new Set<number>();
  private cursor: number;

  constructor(readonly range: PortRange) {
    // A random start: two control planes on one machine (a test run beside npm run dev)
    // would otherwise both try the same ports first.
    this.cursor = range.first + Math.floor(Math.random() * (range.last - range.first + 1));
  }

  async allocate(): Promise<number> {
    const size = this.range.last - this.range.first + 1;
    for (let tried = 0; tried < size; tried++) {
      const port = this.cursor;
      this.cursor = port >= this.range.last ? this.range.first : port + 1;
      if (this.held.has(port)) continue;
      // Held before the probe resolves, so two concurrent callers never get the same port.
      this.held.add(port);
      if (await bindable(port)) return port;
      this.held.delete(port);
    }
    throw new Error(
      `no free port on 127.0.0.1 in CHAMP_LOCAL_PORT_RANGE=${this.range.first}-${this.range.last} ` +
        `(${this.held.size} held by this control plane, the rest taken by other programs): widen the range or stop some endpoints`,
    );
  }

  release(port: number): void {
    this.held.delete(port);
  }
}
