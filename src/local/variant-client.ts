// HTTP to a serving container on its loopback port: POST /invocations through
// a kept-alive pool (with the one resend that is safe), and GET /ping for health.
import * as http from 'node:http';
import type { RunningContainer } from './containers';
import { EndpointRuntimeError, type InvokeRequest, type InvokeResponse } from './runtime';

/** SageMaker passes InvokeEndpoint's CustomAttributes to the container, and the container's back, in this header. */
export const CUSTOM_ATTRIBUTES = 'x-amzn-sagemaker-custom-attributes';

export interface ServingInstance {
  variantName: string;
  port: number;
  container: RunningContainer;
}

export class VariantClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  /** `invokeTimeoutMs`: SageMaker's own limit is 60 s. */
  constructor(private readonly invokeTimeoutMs: number) {}

  invoke(inst: ServingInstance, req: InvokeRequest, retried = false): Promise<InvokeResponse> {
    return new Promise<InvokeResponse>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { 'content-length': req.body.length };
      if (req.contentType) headers['content-type'] = req.contentType;
      if (req.accept) headers.accept = req.accept;
      if (req.customAttributes !== undefined) headers[CUSTOM_ATTRIBUTES] = req.customAttributes;
      const r = http.request(
        { host: '127.0.0.1', port: inst.port, method: 'POST', path: '/invocations', headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(connectionError(inst, err)));
          res.on('end', () => {
            const ct = res.headers['content-type'];
            const attrs = res.headers[CUSTOM_ATTRIBUTES];
            resolve({
              status: res.statusCode ?? 502,
              body: Buffer.concat(chunks),
              ...(ct ? { contentType: ct } : {}),
              ...(typeof attrs === 'string' ? { customAttributes: attrs } : {}),
              invokedVariant: inst.variantName,
            });
          });
        },
      );
      r.setTimeout(this.invokeTimeoutMs, () => {
        r.destroy(new EndpointRuntimeError('InvocationTimeout', `production variant ${inst.variantName} did not answer within ${Math.round(this.invokeTimeoutMs / 1000)} s`));
      });
      r.on('error', (err) => {
        if (err instanceof EndpointRuntimeError) return reject(err);
        // A kept-alive socket the server closed as we reused it: the request never reached it, so sending again is safe.
        if (r.reusedSocket && !retried && (err as NodeJS.ErrnoException).code === 'ECONNRESET' && inst.container.isAlive()) {
          this.invoke(inst, req, true).then(resolve, reject);
          return;
        }
        reject(connectionError(inst, err));
      });
      r.end(req.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function connectionError(inst: ServingInstance, err: Error): EndpointRuntimeError {
  const state = inst.container.isAlive() ? 'is running but the connection failed' : 'has exited';
  return new EndpointRuntimeError(
    'ContainerFailed',
    `The primary container for production variant ${inst.variantName} ${state} (${err.message}); see its log at ${inst.container.logFile}`,
  );
}

/** Whether GET /ping answers 200 within `timeoutMs`. */
export function ping(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    // No keep-alive: a health probe must not hold one of the server's few connections.
    const r = http.get({ host: '127.0.0.1', port, path: '/ping', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    r.on('timeout', () => r.destroy());
    r.on('error', () => resolve(false));
  });
}
