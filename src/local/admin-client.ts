// A typed client of the local control plane's admin API (/_champ/), for tests
// and scripts.
import type { Fault } from './admin';

export type { Fault, FailNextTrainingFault, HoldFault, OperationFault, ReleaseFault } from './admin';

export interface StateSummary {
  trainingJobs: Array<{ name: string; status: string; secondaryStatus: string }>;
  models: string[];
  endpointConfigs: string[];
  endpoints: Array<{ name: string; status: string; config: string; serving: boolean }>;
  transformJobs: Array<{ name: string; status: string }>;
  modelPackageGroups: string[];
  modelPackages: Array<{ arn: string; approval: string }>;
  faults: unknown;
}

async function call<T>(url: string, path: string, method: 'GET' | 'POST', body?: unknown): Promise<T> {
  const res = await fetch(new URL(path, url), {
    method,
    headers: body === undefined ? undefined : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

/** Deletes every resource and stops every process of the control plane at `url`. */
export async function reset(url: string): Promise<void> {
  await call(url, '/_champ/reset', 'POST', {});
}

/** Arms a fault: throttling or errors for the next calls, a failing training job, or a held status. */
export async function injectFault(url: string, fault: Fault): Promise<void> {
  await call(url, '/_champ/faults', 'POST', fault);
}

export async function stateSummary(url: string): Promise<StateSummary> {
  return call<StateSummary>(url, '/_champ/state', 'GET');
}
