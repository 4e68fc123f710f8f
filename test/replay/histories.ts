// The committed workflow histories: test/fixtures/histories/<name>.json, each
// the JSON `temporal workflow show --output json` prints, from one real run
// (scripts/capture-histories.ts). A run's workflow id is `history-<name>`.
import { defaultPayloadConverter, type HistoryAndWorkflowId } from '@temporalio/common';
import type { History } from '@temporalio/common/lib/proto-utils';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';

export const HISTORIES_DIR = resolve(__dirname, '../fixtures/histories');

/** The id a history's run had: names in the workflow derive from it, so replay passes it back. */
export function historyWorkflowId(name: string): string {
  return `history-${name}`;
}

export interface NamedHistory extends HistoryAndWorkflowId {
  /** The file name without `.json`. */
  name: string;
  history: History;
}

export function loadHistories(dir = HISTORIES_DIR): NamedHistory[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const name = basename(file, '.json');
      return { name, workflowId: historyWorkflowId(name), history: historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8'))) };
    });
}

/** A history as the CLI writes it (indented, so a diff of two captures reads). */
export function historyText(history: History): string {
  return `${JSON.stringify(protoJson.toJson(historyType(), proto.temporal.api.history.v1.History.fromObject(history)), null, 2)}\n`;
}

export function historyFromJSON(json: unknown): History {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { events?: unknown }).events)) {
    throw new TypeError('not a history: expected an object with an array of events');
  }
  return protoJson.fromJson(historyType(), json, { ignoreUnknownFields: true }) as History;
}

// The SDK's historyFromJSON/historyToJSON (@temporalio/common/lib/proto-utils) hand
// @temporalio/proto's types to @temporalio/common's copy of protobufjs. This
// install has two copies of protobufjs 8 (`npm ls protobufjs`: the top level is
// grpc's 7), so its `instanceof Type` check throws "type must be a Type". The
// same conversion with the proto package's own copy works either way.
interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options: { ignoreUnknownFields: boolean }): unknown;
}
const protoJson = createRequire(require.resolve('@temporalio/proto'))('protobufjs/ext/protojson') as ProtoJson;

let type: unknown;
function historyType(): unknown {
  type ??= (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');
  return type;
}

/** A runtime that keeps Core's warnings out of the test output: the tests expect and assert determinism errors. */
export function installQuietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });
  } catch {
    // another test file in this process installed one already
  }
}

/** Replays `histories` on one replay worker; each name maps to its replay error, or undefined when it replayed. */
export async function replayAll(bundle: { code: string }, histories: NamedHistory[]): Promise<Map<string, Error | undefined>> {
  const names = new Map(histories.map((h) => [h.workflowId, h.name]));
  const out = new Map<string, Error | undefined>();
  for await (const r of Worker.runReplayHistories({ workflowBundle: bundle, replayName: 'champ-replay' }, histories)) {
    out.set(names.get(r.workflowId) ?? r.workflowId, r.error);
  }
  return out;
}

/** The workflow type a history's run had (trainingPipeline, endpointWorkflow). */
export function historyWorkflowType(history: History): string {
  return history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '';
}

/** How the run ended: its result's outcome, or `failed` / `cancelled`. */
export function historyEnd(history: History): string {
  const last = history.events?.[history.events.length - 1];
  if (last?.workflowExecutionFailedEventAttributes) return 'failed';
  if (last?.workflowExecutionCanceledEventAttributes) return 'cancelled';
  if (last?.workflowExecutionContinuedAsNewEventAttributes) return 'continued-as-new';
  const payload = last?.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0];
  if (!payload) return `unfinished (last event ${String(last?.eventType)})`;
  return defaultPayloadConverter.fromPayload<{ outcome: string }>(payload).outcome;
}
