// The endpoint entity's state: its queue of requests, its log of what served
// when, the request ids it has seen, the freeze, and the outcomes still to be
// told. The workflow (./workflow.ts) wires its handlers to these methods and
// runs what `next()` gives; everything here is synchronous.
import { ApplicationFailure } from '@temporalio/workflow';
import { ErrorTypes } from '../../shared';
import type {
  CancelDeploymentInput,
  DeploymentOutcome,
  DeploymentRequest,
  EndpointEntityInput,
  EndpointEntityState,
  EndpointEntityStatus,
  EndpointLogEntry,
  FreezeInput,
  RequestAccepted,
  RollbackInput,
  UnfreezeInput,
} from './messages';
import { endpointEntityId } from './messages';

/** Log entries carried from run to run (what served when, for `history` and rollbacks). */
export const MAX_LOG = 100;
/** Request ids remembered for deduplication. */
export const MAX_SEEN = 500;
const TAIL = 10;

type Queued = EndpointEntityState['queue'][number];
type Logged = EndpointEntityState['log'][number];

const now = (): string => new Date().toISOString();

function invalid(field: string, problem: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`${field} ${problem}`, ErrorTypes.InvalidInput);
}

function text(value: unknown, field: string, max = 512): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw invalid(field, `must be text of 1 to ${max} characters (got ${JSON.stringify(value)?.slice(0, 80)})`);
}

export class EndpointBook {
  readonly entityId: string;
  private readonly state: EndpointEntityState;
  /** The request running now, and how to abort it (set by the workflow). */
  private running?: { item: Queued; abort: (reason: string) => void };

  constructor(private readonly input: EndpointEntityInput) {
    this.entityId = endpointEntityId(input.scope, input.endpointName);
    const carried = input.state;
    this.state = carried
      ? { ...carried, run: carried.run + 1 }
      : { seq: 0, run: 1, queue: [], log: [], seen: [], outbox: [] };
  }

  get endpointName(): string {
    return this.input.endpointName;
  }

  get frozen(): boolean {
    return this.state.frozen !== undefined;
  }

  // --- requests ---------------------------------------------------------------

  /** The update validator: bad input is refused before it reaches history. */
  validateRequest(req: DeploymentRequest): void {
    if (typeof req !== 'object' || req === null) throw invalid('request', 'must be an object');
    text(req.requestId, 'request.requestId');
    text(req.requestedBy, 'request.requestedBy');
    const plan = req.plan;
    if (typeof plan !== 'object' || plan === null) throw invalid('request.plan', 'must be an object');
    for (const f of ['pipeline', 'model', 'endpointConfig', 'imageUri', 'modelArtifact', 'roleArn', 'deployTimeout'] as const) text(plan[f], `request.plan.${f}`, 2048);
    if (plan.deployment?.endpointName !== this.endpointName) {
      throw invalid('request.plan.deployment.endpointName', `is ${JSON.stringify(plan.deployment?.endpointName)}, but this entity owns endpoint ${this.endpointName}: send it to ${endpointEntityId(this.input.scope, String(plan.deployment?.endpointName))}`);
    }
    if (req.whenFrozen !== undefined && req.whenFrozen !== 'wait' && req.whenFrozen !== 'fail') throw invalid('request.whenFrozen', 'must be "wait" or "fail"');
    if (!(req.poll?.initialMs > 0) || !(req.poll?.maxMs > 0)) throw invalid('request.poll', 'must give initialMs and maxMs above 0');
  }

  /** Takes a request: the same id again is the same request. */
  request(req: DeploymentRequest): RequestAccepted {
    const known = this.known(req.requestId);
    if (known) return known;
    const entry = this.entry(req, 'deploy');
    if (this.state.frozen && req.whenFrozen === 'fail') {
      // In the log too: who asked for what, and why it did not run.
      const outcome = this.record({ request: req, entry }, this.outcome(entry, 'refused', `endpoint ${this.endpointName} is frozen by ${this.state.frozen.by}: ${this.state.frozen.reason}`));
      return { requestId: req.requestId, entityId: this.entityId, state: 'done', ahead: 0, outcome };
    }
    this.state.queue.push({ request: req, entry });
    this.remember(req.requestId);
    return { requestId: req.requestId, entityId: this.entityId, state: 'queued', ahead: this.state.queue.length - 1 + (this.running ? 1 : 0) };
  }

  /** Checks that a rollback has somewhere to go. */
  validateRollback(input: RollbackInput): void {
    if (typeof input !== 'object' || input === null) throw invalid('rollback', 'must be an object');
    text(input.by, 'rollback.by');
    if (input.requestId !== undefined && this.known(input.requestId)) return;
    this.rollbackTarget(input.to);
  }

  /** Queues a deployment of an earlier good plan again. */
  rollback(input: RollbackInput, updateId: string): RequestAccepted {
    const requestId = input.requestId ?? `rollback-${updateId}`;
    const known = this.known(requestId);
    if (known) return known;
    const target = this.rollbackTarget(input.to);
    const request: DeploymentRequest = {
      requestId,
      plan: target.plan,
      requestedBy: input.by,
      approvedBy: target.entry.approvedBy,
      modelVersion: target.entry.modelVersion,
      modelPackageArn: target.entry.modelPackageArn,
      modelPackageGroup: target.modelPackageGroup,
      poll: target.poll,
    };
    const entry = { ...this.entry(request, 'rollback'), rollbackOf: target.entry.requestId, ...(input.reason ? { reason: input.reason } : {}) };
    // An operator's rollback goes first among the waiting requests: it answers an incident.
    this.state.queue.unshift({ request, entry });
    this.remember(requestId);
    return { requestId, entityId: this.entityId, state: 'queued', ahead: this.running ? 1 : 0 };
  }

  /** The previous good deployment (one that served another config than the live one), or the one named. */
  private rollbackTarget(to: string | undefined): Logged {
    const good = this.state.log.filter((l) => l.entry.outcome === 'deployed');
    if (to !== undefined) {
      text(to, 'rollback.to');
      const named = [...good].reverse().find((l) => l.entry.requestId === to || l.entry.endpointConfig === to);
      if (!named) throw invalid('rollback.to', `names no good deployment in the log of endpoint ${this.endpointName} (${JSON.stringify(to)}); see champ endpoint history`);
      return named;
    }
    const live = good[good.length - 1];
    const previous = [...good].reverse().find((l) => l.entry.endpointConfig !== live?.entry.endpointConfig);
    if (!live || !previous) throw invalid('rollback', `has no previous good deployment of endpoint ${this.endpointName} to go back to; name one with "to"`);
    return previous;
  }

  validateFreeze(input: FreezeInput): void {
    if (typeof input !== 'object' || input === null) throw invalid('freeze', 'must be an object');
    text(input.by, 'freeze.by');
    text(input.reason, 'freeze.reason', 1024);
  }

  /** Refuses deployments until unfrozen; requests that said not to wait end now. */
  freeze(input: FreezeInput): EndpointEntityStatus {
    this.state.frozen = { reason: input.reason, by: input.by, at: now() };
    const keep: Queued[] = [];
    for (const q of this.state.queue) {
      if (q.request.whenFrozen === 'fail' && q.entry.kind === 'deploy') {
        this.end(q, 'refused', `endpoint ${this.endpointName} was frozen by ${input.by}: ${input.reason}`);
      } else keep.push(q);
    }
    this.state.queue = keep;
    return this.status();
  }

  validateUnfreeze(input: UnfreezeInput): void {
    if (typeof input !== 'object' || input === null) throw invalid('unfreeze', 'must be an object');
    text(input.by, 'unfreeze.by');
  }

  unfreeze(): EndpointEntityStatus {
    this.state.frozen = undefined;
    return this.status();
  }

  /** A requester withdraws: a waiting request leaves the queue, a running one is aborted (and put back). */
  cancel(input: CancelDeploymentInput): void {
    if (typeof input?.requestId !== 'string') return;
    const reason = typeof input.reason === 'string' ? input.reason : 'withdrawn by its requester';
    const i = this.state.queue.findIndex((q) => q.request.requestId === input.requestId);
    if (i >= 0) {
      const [q] = this.state.queue.splice(i, 1);
      this.end(q!, 'withdrawn', reason);
    } else if (this.running?.item.request.requestId === input.requestId) {
      this.running.abort(reason);
    } else if (!this.known(input.requestId)) {
      // Withdrawn before it arrived (the requester was cancelled while sending it): it must not run when it does.
      this.remember(input.requestId, { requestId: input.requestId, entityId: this.entityId, outcome: 'withdrawn', reason, endpointConfigName: '', resources: [], warnings: [] });
    }
  }

  // --- the workflow's side -------------------------------------------------------

  /** The next request to run: the first in line, or while frozen the first rollback. */
  next(): Queued | undefined {
    if (this.running) return undefined;
    return this.state.frozen ? this.state.queue.find((q) => q.entry.kind === 'rollback') : this.state.queue[0];
  }

  start(item: Queued, abort: (reason: string) => void): void {
    this.state.queue = this.state.queue.filter((q) => q !== item);
    item.entry.startedAt = now();
    this.running = { item, abort };
  }

  finish(item: Queued, outcome: Omit<DeploymentOutcome, 'requestId' | 'entityId'>): DeploymentOutcome {
    this.running = undefined;
    const done = { ...outcome, requestId: item.request.requestId, entityId: this.entityId };
    this.record(item, done);
    return done;
  }

  /** The outcomes still to be told to their requesters, taken from the outbox. */
  takeOutbox(): EndpointEntityState['outbox'] {
    const out = this.state.outbox;
    this.state.outbox = [];
    return out;
  }

  get hasOutbox(): boolean {
    return this.state.outbox.length > 0;
  }

  /** What the next run of the entity starts from. */
  carry(): EndpointEntityState {
    return this.state;
  }

  status(): EndpointEntityStatus {
    const good = [...this.state.log].reverse().find((l) => l.entry.outcome === 'deployed');
    return {
      endpointName: this.endpointName,
      scope: this.input.scope,
      entityId: this.entityId,
      ...(this.state.frozen ? { frozen: this.state.frozen } : {}),
      ...(this.running ? { current: this.running.item.entry } : {}),
      queue: this.state.queue.map((q) => q.entry),
      ...(good ? { lastGood: good.entry } : {}),
      logTail: this.history().slice(-TAIL),
      requests: this.state.seq,
      run: this.state.run,
    };
  }

  history(): EndpointLogEntry[] {
    return this.state.log.map((l) => l.entry);
  }

  // --- inside ---------------------------------------------------------------------

  private known(requestId: string): RequestAccepted | undefined {
    const seen = this.state.seen.find((s) => s.requestId === requestId);
    if (!seen) return undefined;
    const base = { requestId, entityId: this.entityId };
    if (seen.outcome) return { ...base, state: 'done', ahead: 0, outcome: seen.outcome };
    if (this.running?.item.request.requestId === requestId) return { ...base, state: 'running', ahead: 0 };
    const i = this.state.queue.findIndex((q) => q.request.requestId === requestId);
    return { ...base, state: 'queued', ahead: Math.max(0, i) + (this.running ? 1 : 0) };
  }

  private remember(requestId: string, outcome?: DeploymentOutcome): void {
    const seen = this.state.seen.find((s) => s.requestId === requestId);
    if (seen) seen.outcome = outcome;
    else this.state.seen.push({ requestId, ...(outcome ? { outcome } : {}) });
    if (this.state.seen.length > MAX_SEEN) this.state.seen.splice(0, this.state.seen.length - MAX_SEEN);
  }

  private entry(req: DeploymentRequest, kind: EndpointLogEntry['kind']): EndpointLogEntry {
    this.state.seq += 1;
    return {
      seq: this.state.seq,
      requestId: req.requestId,
      kind,
      pipeline: req.plan.pipeline,
      ...(req.modelVersion !== undefined ? { modelVersion: req.modelVersion } : {}),
      ...(req.modelPackageArn ? { modelPackageArn: req.modelPackageArn } : {}),
      imageUri: req.plan.imageUri,
      model: req.plan.model,
      endpointConfig: req.plan.endpointConfig,
      requestedBy: req.requestedBy,
      ...(req.approvedBy ? { approvedBy: req.approvedBy } : {}),
      ...(req.requester ? { requester: req.requester } : {}),
      enqueuedAt: now(),
    };
  }

  private outcome(entry: EndpointLogEntry, outcome: DeploymentOutcome['outcome'], reason: string): DeploymentOutcome {
    return { requestId: entry.requestId, entityId: this.entityId, outcome, reason, endpointConfigName: entry.endpointConfig, resources: [], warnings: [] };
  }

  /** Ends a request that never ran. */
  private end(item: Queued, outcome: DeploymentOutcome['outcome'], reason: string): void {
    this.record(item, this.outcome(item.entry, outcome, reason));
  }

  private record(item: Queued, outcome: DeploymentOutcome): DeploymentOutcome {
    const entry = item.entry;
    entry.outcome = outcome.outcome;
    if (outcome.reason) entry.reason = outcome.reason;
    entry.endedAt = now();
    const req = item.request;
    this.state.log.push({ entry, plan: req.plan, ...(req.modelPackageGroup ? { modelPackageGroup: req.modelPackageGroup } : {}), poll: req.poll });
    if (this.state.log.length > MAX_LOG) this.state.log.splice(0, this.state.log.length - MAX_LOG);
    this.remember(req.requestId, outcome);
    if (req.requester) this.state.outbox.push({ requester: req.requester, outcome });
    return outcome;
  }
}
