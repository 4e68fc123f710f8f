// Loopback helpers shared by the control plane, the benchmarks and the tests.
import { createServer, type AddressInfo } from 'node:net';

/** A port that was free a moment ago on 127.0.0.1, for a program that cannot take port 0 itself. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
