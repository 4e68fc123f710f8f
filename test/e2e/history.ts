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
