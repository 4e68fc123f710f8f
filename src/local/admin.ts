// Test controls of the local control plane: injected faults and held status
// transitions. Served under /_champ/ by the server; never part of SageMaker's API.
import { SageMakerError } from './errors';

export interface OperationFault {
  kind?: 'operation';
  /** A SageMaker operation name (`DescribeEndpoint`) or `InvokeEndpoint`. */
  operation: string;
  /**
   * throttle: ThrottlingException; error: the `errorType` below; reset: the
   * connection is destroyed without an answer (ECONNRESET / socket hang up on
   * the caller's side); slow: the answer comes `delayMs` late (then normally).
   */
  mode: 'throttle' | 'error' | 'reset' | 'slow';
  /** How many of the next calls of that operation answer the fault. */
  count: number;
  /** For mode 'slow': how late the answer comes, in ms. */
  delayMs?: number;
  /** For mode 'error': the `__type` (default InternalFailure). */
  errorType?: string;
  message?: string;
  /** For mode 'error': the HTTP status (default 500 for InternalFailure, else 400). */
  httpStatus?: number;
}

export interface FailNextTrainingFault {
  kind: 'fail-next-training';
  reason: string;
}

export interface HoldFault {
  kind: 'hold';
  resource: 'training' | 'endpoint';
  /** The status to keep at least `ms`: training `InProgress`; endpoint `Creating` or `Updating`. */
  status: string;
  ms: number;
  /** How many transitions to hold (default: every one until reset). */
  count?: number;
}

/**
 * Ends the holds of that resource and status now, those already holding a
 * transition included: a test holds a state as long as it needs (a large `ms`),
 * then lets it go, whatever the machine's speed.
 */
export interface ReleaseFault {
  kind: 'release';
  resource: 'training' | 'endpoint';
  status: string;
}

export type Fault = OperationFault | FailNextTrainingFault | HoldFault | ReleaseFault;

const HOLDABLE: Record<HoldFault['resource'], string[]> = {
  training: ['InProgress'],
  endpoint: ['Creating', 'Updating', 'Deleting'],
};

function bad(message: string): SageMakerError {
  return new SageMakerError('ValidationException', message);
}

/** Checks an admin request body and names the field at fault. */
export function parseFault(body: unknown): Fault {
  if (typeof body !== 'object' || body === null) throw bad('fault: expected a JSON object');
  const b = body as Record<string, unknown>;
  if (b.kind === 'fail-next-training') {
    if (typeof b.reason !== 'string' || b.reason === '') throw bad('fault.reason: give the FailureReason to report');
    return { kind: 'fail-next-training', reason: b.reason };
  }
  if (b.kind === 'release') {
    if (b.resource !== 'training' && b.resource !== 'endpoint') {
      throw bad(`fault.resource: expected 'training' or 'endpoint', got ${JSON.stringify(b.resource)}`);
    }
    if (typeof b.status !== 'string' || !HOLDABLE[b.resource].includes(b.status)) {
      throw bad(`fault.status: a ${b.resource} release applies to ${HOLDABLE[b.resource].join(' | ')}, got ${JSON.stringify(b.status)}`);
    }
    return { kind: 'release', resource: b.resource, status: b.status };
  }
  if (b.kind === 'hold') {
    if (b.resource !== 'training' && b.resource !== 'endpoint') {
      throw bad(`fault.resource: expected 'training' or 'endpoint', got ${JSON.stringify(b.resource)}`);
    }
    const allowed = HOLDABLE[b.resource];
    if (typeof b.status !== 'string' || !allowed.includes(b.status)) {
      throw bad(`fault.status: a ${b.resource} hold applies to ${allowed.join(' | ')}, got ${JSON.stringify(b.status)}`);
    }
    if (typeof b.ms !== 'number' || b.ms < 0) throw bad('fault.ms: give the minimum time in the status, in ms (>= 0)');
    if (b.count !== undefined && (typeof b.count !== 'number' || b.count < 1)) {
      throw bad('fault.count: a positive number of transitions, or omit it for all');
    }
    return { kind: 'hold', resource: b.resource, status: b.status, ms: b.ms, count: b.count as number | undefined };
  }
  if (b.kind !== undefined && b.kind !== 'operation') {
    throw bad(`fault.kind: expected 'operation', 'fail-next-training', 'hold' or 'release', got ${JSON.stringify(b.kind)}`);
  }
  if (typeof b.operation !== 'string' || !/^[A-Z][A-Za-z]+$/.test(b.operation)) {
    throw bad('fault.operation: give an operation name such as "DescribeEndpoint" or "InvokeEndpoint"');
  }
  if (b.mode !== 'throttle' && b.mode !== 'error' && b.mode !== 'reset' && b.mode !== 'slow') {
    throw bad("fault.mode: expected 'throttle', 'error', 'reset' or 'slow'");
  }
  if (b.mode === 'slow' && (typeof b.delayMs !== 'number' || !Number.isFinite(b.delayMs) || b.delayMs < 0 || b.delayMs > 600_000)) {
    throw bad('fault.delayMs: how late a slow answer comes, in ms (0-600000)');
  }
  if (typeof b.count !== 'number' || !Number.isInteger(b.count) || b.count < 1) {
    throw bad('fault.count: how many calls fail, an integer >= 1');
  }
  for (const f of ['errorType', 'message'] as const) {
    if (b[f] !== undefined && typeof b[f] !== 'string') throw bad(`fault.${f}: expected a string`);
  }
  if (b.httpStatus !== undefined && (typeof b.httpStatus !== 'number' || b.httpStatus < 400 || b.httpStatus > 599)) {
    throw bad('fault.httpStatus: expected an HTTP error status 400-599');
  }
  return {
    kind: 'operation',
    operation: b.operation,
    mode: b.mode,
    count: b.count,
    errorType: b.errorType as string | undefined,
    message: b.message as string | undefined,
    httpStatus: b.httpStatus as number | undefined,
    ...(b.mode === 'slow' ? { delayMs: b.delayMs as number } : {}),
  };
}

export class AdminControls {
  private operationFaults: OperationFault[] = [];
  private trainingFailures: string[] = [];
  private holds: HoldFault[] = [];
  /** Transitions being held now, by `resource/status`: a release wakes them. */
  private readonly holding = new Map<string, Set<() => void>>();

  add(fault: Fault): void {
    if (fault.kind === 'fail-next-training') this.trainingFailures.push(fault.reason);
    else if (fault.kind === 'release') {
      this.holds = this.holds.filter((h) => !(h.resource === fault.resource && h.status === fault.status));
      this.wake(`${fault.resource}/${fault.status}`);
    } else if (fault.kind === 'hold') {
      this.holds = this.holds.filter((h) => !(h.resource === fault.resource && h.status === fault.status));
      this.holds.push({ ...fault });
    } else this.operationFaults.push({ ...fault });
  }

  /**
   * Applies the fault armed for this call of `operation`, if any: throws the
   * error it must answer, waits for a slow answer, or destroys the connection
   * (then returns false: there is no one left to answer).
   */
  async applyOperationFault(operation: string, socket: { destroy(): void }): Promise<boolean> {
    const f = this.takeFault(operation);
    if (!f) return true;
    if (f.mode === 'reset') {
      socket.destroy();
      return false;
    }
    if (f.mode === 'slow') {
      await new Promise((r) => setTimeout(r, f.delayMs ?? 0));
      return true;
    }
    throw this.errorOf(f);
  }

  /** The error the next call of `operation` must answer, if an error or throttle fault is armed for it. */
  takeOperationFault(operation: string): SageMakerError | undefined {
    const f = this.takeFault(operation, ['throttle', 'error']);
    return f ? this.errorOf(f) : undefined;
  }

  private takeFault(operation: string, modes?: OperationFault['mode'][]): OperationFault | undefined {
    const f = this.operationFaults.find((x) => x.operation === operation && x.count > 0 && (!modes || modes.includes(x.mode)));
    if (!f) return undefined;
    f.count -= 1;
    if (f.count === 0) this.operationFaults = this.operationFaults.filter((x) => x !== f);
    return f;
  }

  private errorOf(f: OperationFault): SageMakerError {
    if (f.mode === 'throttle') return new SageMakerError('ThrottlingException', f.message ?? 'Rate exceeded', 400);
    const type = f.errorType ?? 'InternalFailure';
    const status = f.httpStatus ?? (type === 'InternalFailure' || type === 'ServiceUnavailable' ? 500 : 400);
    return new SageMakerError(type, f.message ?? 'An internal error occurred (injected by the local control plane).', status);
  }

  takeTrainingFailure(): string | undefined {
    return this.trainingFailures.shift();
  }

  /** Waits until `since + hold` when a hold is armed for that status, using one of its counts. */
  async holdUntil(resource: HoldFault['resource'], status: string, sinceMs: number): Promise<void> {
    const h = this.holds.find((x) => x.resource === resource && x.status === status);
    if (!h) return;
    if (h.count !== undefined) {
      h.count -= 1;
      if (h.count <= 0) this.holds = this.holds.filter((x) => x !== h);
    }
    const wait = sinceMs + h.ms - Date.now();
    if (wait <= 0) return;
    const k = `${resource}/${status}`;
    await new Promise<void>((resolve) => {
      const waiters = this.holding.get(k) ?? new Set<() => void>();
      this.holding.set(k, waiters);
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, wait);
      waiters.add(done);
    });
  }

  private wake(k: string): void {
    for (const done of [...(this.holding.get(k) ?? [])]) done();
    this.holding.delete(k);
  }

  reset(): void {
    for (const k of [...this.holding.keys()]) this.wake(k);
    this.operationFaults = [];
    this.trainingFailures = [];
    this.holds = [];
  }

  summary(): { operationFaults: OperationFault[]; trainingFailures: string[]; holds: HoldFault[] } {
    return {
      operationFaults: this.operationFaults.map((f) => ({ ...f })),
      trainingFailures: [...this.trainingFailures],
      holds: this.holds.map((h) => ({ ...h })),
    };
  }
}
