// Counts the AWS requests the activities make, per service and operation, and
// those refused by throttling, on the worker's metric meter (its Prometheus
// endpoint). A middleware on each client: every attempt the SDK makes is one
// request, so a call the SDK retried after a throttle counts twice.
import { Context } from '@temporalio/activity';
import type { MetricMeter } from '@temporalio/common';
import { METRICS } from '../observability/names';
import { errorFacts } from './errors';

/** The part of an SDK v3 client this needs: its middleware stack. */
interface InstrumentableClient {
  middlewareStack: { add(middleware: never, options: { step: 'finalizeRequest'; priority: 'low'; name: string; override: boolean }): void };
}

export type RequestResult = 'ok' | 'error' | 'throttled';

export interface RequestRecord {
  service: string;
  operation: string;
  result: RequestResult;
}

/** The meter of the activity running this request; none outside an activity (the CLI, scripts). */
function activityMeter(): MetricMeter | undefined {
  try {
    return Context.current().metricMeter;
  } catch {
    return undefined;
  }
}

/** "DescribeEndpointCommand" -> "DescribeEndpoint". */
export function operationName(commandName: unknown): string {
  return typeof commandName === 'string' && commandName ? commandName.replace(/Command$/, '') : 'unknown';
}

export function recordRequest(meter: MetricMeter, record: RequestRecord): void {
  const { service, operation, result } = record;
  meter.createCounter(METRICS.awsRequests, '1', 'AWS requests (each attempt) by service, operation and result').add(1, { service, operation, result });
  if (result === 'throttled') meter.createCounter(METRICS.awsThrottles, '1', 'AWS requests refused by throttling').add(1, { service, operation });
}

/**
 * Adds the counting middleware to a client. It sits inside the SDK's retry
 * middleware, so it sees each attempt and the error that attempt ended with.
 * `meter` is for tests; by default the running activity's.
 */
export function countRequests<C extends InstrumentableClient>(client: C, service: string, meter: () => MetricMeter | undefined = activityMeter): C {
  const middleware =
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: unknown }) =>
    async (args: unknown): Promise<unknown> => {
      const operation = operationName(context.commandName);
      try {
        const output = await next(args);
        const m = meter();
        if (m) recordRequest(m, { service, operation, result: 'ok' });
        return output;
      } catch (err) {
        const m = meter();
        if (m) recordRequest(m, { service, operation, result: errorFacts(err).throttling ? 'throttled' : 'error' });
        throw err;
      }
    };
  client.middlewareStack.add(middleware as never, { step: 'finalizeRequest', priority: 'low', name: 'champRequestMetrics', override: true });
  return client;
}
