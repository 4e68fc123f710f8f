// Reading a workflow's history: which activities were scheduled, and what they returned.
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';

export type History = temporal.api.history.v1.IHistory;
type Payloads = temporal.api.common.v1.IPayloads | null | undefined;

function decode(payloads: Payloads): unknown[] {
  return (payloads?.payloads ?? []).map((p) => defaultPayloadConverter.fromPayload(p));
}

export interface ScheduledActivity {
  eventId: number;
  activityType: string;
  input: unknown[];
}

export function scheduledActivities(history: History, activityType?: string): ScheduledActivity[] {
  const out: ScheduledActivity[] = [];
  for (const e of history.events ?? []) {
    const a = e.activityTaskScheduledEventAttributes;
    if (!a) continue;
    const type = a.activityType?.name ?? '';
    if (activityType && type !== activityType) continue;
    out.push({ eventId: Number(e.eventId), activityType: type, input: decode(a.input) });
  }
  return out;
}

/** The results of every completed activity of `activityType`, in history order. */
export function activityCompletions(history: History, activityType: string): unknown[] {
  const scheduled = new Set(scheduledActivities(history, activityType).map((s) => s.eventId));
  const out: unknown[] = [];
  for (const e of history.events ?? []) {
    const a = e.activityTaskCompletedEventAttributes;
    if (!a || !scheduled.has(Number(a.scheduledEventId))) continue;
    out.push(decode(a.result)[0]);
  }
  return out;
}

/** One activity the history ran: what it was given and, once it completed, what it returned. */
export interface RanActivity {
  input: unknown;
  result?: unknown;
}

/** Every `activityType` activity in the history with its first argument and its result, in history order. */
export function activitiesRan(history: History, activityType: string): RanActivity[] {
  const byEvent = new Map<number, RanActivity>();
  for (const s of scheduledActivities(history, activityType)) byEvent.set(s.eventId, { input: s.input[0] });
  for (const e of history.events ?? []) {
    const a = e.activityTaskCompletedEventAttributes;
    const ran = a ? byEvent.get(Number(a.scheduledEventId)) : undefined;
    if (ran) ran.result = decode(a!.result)[0];
  }
  return [...byEvent.values()];
}

/**
 * A pipeline deploys through its endpoint's entity workflow, so the endpoint activities are in the
 * entity's history, not the pipeline's: the history of the entity that a run's deployment went to.
 */
export async function entityHistory(
  client: { workflow: { getHandle(id: string): { fetchHistory(): Promise<History> } } },
  run: { deployment?: { entityId: string } },
): Promise<History> {
  if (!run.deployment) throw new Error('the run made no deployment request (its result or status has no deployment)');
  return client.workflow.getHandle(run.deployment.entityId).fetchHistory();
}
