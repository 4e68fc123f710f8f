// A pipeline's live status and progress as lines of text, and following a
// run until it ends (`champ run --wait`).
import {
  CancelledFailure,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { setMaxListeners } from 'node:events';
import { statusQuery, type PipelineResult, type PipelineStage, type PipelineStatus, type trainingPipeline } from '../workflows';
import { CliError, EXIT, firstLine, type CliIO } from './common';

/**
 * Why a workflow ended without a result, in one line: the deepest cause's
 * message (the activity's own ApplicationFailure), not "Workflow execution failed".
 */
export function describeWorkflowFailure(err: unknown): { end: 'failed' | 'cancelled' | 'terminated' | 'timed-out'; reason: string } {
  let cause: unknown = err instanceof WorkflowFailedError ? err.cause : err;
  if (cause instanceof CancelledFailure) return { end: 'cancelled', reason: 'the pipeline was cancelled' };
  if (cause instanceof TerminatedFailure) return { end: 'terminated', reason: firstLine(cause) || 'terminated' };
  if (cause instanceof TimeoutFailure) return { end: 'timed-out', reason: 'the workflow timed out' };
  let reason = firstLine(cause ?? err);
  while (cause instanceof Error && cause.cause instanceof Error) {
    cause = cause.cause;
    if (cause instanceof CancelledFailure) return { end: 'cancelled', reason: 'the pipeline was cancelled' };
    const line = firstLine(cause);
    if (line) reason = line;
  }
  return { end: 'failed', reason };
}

export function formatMetrics(metrics: Array<{ name: string; value: number }> | undefined, significantDigits = 6): string {
  if (!metrics || metrics.length === 0) return '-';
  return metrics.map((m) => `${m.name}=${Number(m.value.toPrecision(significantDigits))}`).join(' ');
}

export function formatStatus(s: PipelineStatus): string[] {
  const lines = [`pipeline ${s.pipeline}: stage ${s.stage}${s.outcome ? `, outcome ${s.outcome}` : ''}`];
  if (s.reason) lines.push(`  reason: ${s.reason}`);
  lines.push(`  candidate: version ${s.candidate?.version ?? '-'} ${formatMetrics(s.candidate?.metrics)}`);
  lines.push(`  champion:  ${s.champion ? `version ${s.champion.version ?? '-'} ${formatMetrics(s.champion.metrics)}` : 'none yet'}`);
  if (s.approval?.awaiting) {
    lines.push(`  awaiting approval of model version ${s.approval.modelVersion}${s.approval.deadline ? ` until ${s.approval.deadline}` : ''}`);
  }
  for (const [k, v] of Object.entries(s.resources ?? {})) if (v) lines.push(`  ${k}: ${v}`);
  if (s.logs?.training) lines.push(`  training log: ${s.logs.training}`);
  return lines;
}

/** What a stage is working on, from the live status: shown beside the stage name. */
export function stageDetail(stage: PipelineStage, s: PipelineStatus, workflowId: string): string {
  switch (stage) {
    case 'building':
      return s.resources.imageUri ?? '';
    case 'training':
      return s.resources.trainingJob ?? '';
    case 'gating':
      return s.gate ? s.gate.rules.map((r) => `${r.rule}: ${r.verdict}`).join('; ') : '';
    case 'registering':
      return s.candidate.version !== undefined ? `model version ${s.candidate.version}  ${formatMetrics(s.candidate.metrics)}` : '';
    case 'awaiting-approval':
      return s.approval?.awaiting && s.approval.modelVersion !== undefined
        ? `model version ${s.approval.modelVersion}: champ approve ${workflowId} --version ${s.approval.modelVersion} --reviewer <you>  (or champ reject ... --reason <why>)`
        : '';
    case 'deploying':
      return s.champion?.version !== undefined
        ? `updating ${s.resources.endpoint} (champion: model version ${s.champion.version})`
        : s.resources.endpoint;
    case 'awaiting-endpoint':
      return s.resources.endpointConfig ?? '';
    default:
      return '';
  }
}

/**
 * The stages entered since the last call, oldest first, marked in `shown`.
 * Timings list every stage entered, so a stage shorter than a poll still
 * counts; `done` is an end, not a stage to show.
 */
export function newStages(timings: ReadonlyArray<{ stage: PipelineStage }>, current: PipelineStage | undefined, shown: Set<string>): PipelineStage[] {
  const entered: PipelineStage[] = [];
  for (const stage of [...timings.map((t) => t.stage), ...(current ? [current] : [])]) {
    if (stage === 'done' || shown.has(stage)) continue;
    shown.add(stage);
    entered.push(stage);
  }
  return entered;
}

/** The CLI's time column: whole seconds since following began. */
function clock(elapsedSeconds: number): string {
  return `  ${elapsedSeconds.toFixed(0).padStart(4)}s`;
}

function stageLine(time: string, stage: PipelineStage, detail = ''): string {
  return `${time}  ${stage.padEnd(18)} ${detail}`.trimEnd();
}

/** Progress lines for the stages entered since the last call. */
export function progressLines(s: PipelineStatus, shown: Set<string>, workflowId: string, elapsedSeconds: number): string[] {
  return newStages(s.timings, s.stage, shown).map((stage) => stageLine(clock(elapsedSeconds), stage, stageDetail(stage, s, workflowId)));
}

export type PipelineHandle = WorkflowHandle<typeof trainingPipeline>;

export interface FollowOptions {
  /** What is shown beside a stage as the run enters it (default: {@link stageDetail}). */
  detail?: (stage: PipelineStage, s: PipelineStatus) => string;
  /** The time column of each line (default: whole seconds since following began). */
  time?: () => string;
  /** Between two status queries (default 1 s). */
  pollMs?: number;
  /**
   * Runs after the lines of each status seen, with the stages it entered; the
   * next query waits for it. The demo approves and starts its traffic here.
   */
  onStatus?: (s: PipelineStatus, entered: PipelineStage[]) => Promise<void> | void;
}

/**
 * Prints each stage as the run enters it and returns its result; Ctrl-C stops
 * following, not the run. A run that ends without a result is a CliError with
 * the deepest cause and exit code {@link EXIT.notDeployed}.
 */
export async function follow(client: Client, handle: PipelineHandle, io: CliIO, options: FollowOptions = {}): Promise<PipelineResult> {
  const started = Date.now();
  const time = options.time ?? (() => clock((Date.now() - started) / 1000));
  const detail = options.detail ?? ((stage: PipelineStage, s: PipelineStatus) => stageDetail(stage, s, handle.workflowId));
  const pollMs = options.pollMs ?? 1000;
  const shown = new Set<string>();
  // Aborted when we stop following: a call still pending then (a query or the
  // result's long poll) must not retry on the closed connection. The SDK adds
  // an abort listener for every gRPC call and never removes it, so each query
  // has its own signal, and the result's (one listener per long poll, a few a
  // minute) may have any number.
  const pending = new Set<AbortController>();
  const abortable = <T>(fn: () => Promise<T>): Promise<T> => {
    const abort = new AbortController();
    pending.add(abort);
    return client.withAbortSignal(abort.signal, fn).finally(() => pending.delete(abort));
  };
  const resultAbort = new AbortController();
  setMaxListeners(0, resultAbort.signal);
  pending.add(resultAbort);
  const result = client.withAbortSignal(resultAbort.signal, () => handle.result());
  let finished = false;
  let interrupted = false;
  // Settles when the run ends or the user presses Ctrl-C. A query to a run whose
  // worker is down hangs until its deadline, so every wait races against this.
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (stop = r));
  const settle = () => {
    finished = true;
    stop();
  };
  void result.then(settle, settle);
  const removeInterrupt = io.onInterrupt?.(() => {
    interrupted = true;
    stop();
  });
  // An onStatus that throws ends the following with its error.
  let hookFailed: { err: unknown } | undefined;
  const show = async (s: PipelineStatus) => {
    if (interrupted) return;
    const entered = newStages(s.timings, s.stage, shown);
    for (const stage of entered) io.out(stageLine(time(), stage, detail(stage, s)));
    await options.onStatus?.(s, entered);
  };
  try {
    while (!finished && !interrupted && !hookFailed) {
      const query = abortable(() => handle.query(statusQuery))
        .then(
          show,
          () => undefined, // the workflow may have just closed; result() tells
        )
        .catch((err: unknown) => {
          hookFailed = { err };
          stop();
        });
      await Promise.race([query, stopped]);
      await Promise.race([stopped, new Promise<void>((r) => setTimeout(r, pollMs).unref())]);
    }
  } finally {
    removeInterrupt?.();
    // The result has settled unless interrupted; what is still pending is dropped.
    for (const abort of pending) abort.abort();
  }
  if (hookFailed) throw hookFailed.err;
  if (interrupted && !finished) {
    throw new CliError(
      `stopped following ${handle.workflowId}; the pipeline keeps running. Follow it with "champ status ${handle.workflowId}", stop it with "champ cancel ${handle.workflowId}"`,
      EXIT.interrupted,
    );
  }
  try {
    const done = await result;
    // Stages that passed between the last poll and the end, from the result's timings.
    for (const stage of newStages(done.timings ?? [], undefined, shown)) io.out(stageLine(time(), stage));
    return done;
  } catch (err) {
    const { end, reason } = describeWorkflowFailure(err);
    throw new CliError(`${handle.workflowId} ${end}: ${reason}`, EXIT.notDeployed);
  }
}
