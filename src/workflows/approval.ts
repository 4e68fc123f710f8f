// The approval state machine: not awaited -> awaiting -> decided (by an update,
// a signal, the deadline, or the spec when no approval is required). The
// workflow wires its handlers (wf.setHandler) to these methods; this class owns
// the state, the validation and the decision.
import * as wf from '@temporalio/workflow';
import { ApplicationFailure } from '@temporalio/workflow';
import type { SetApprovalInput } from '../activities/types';
import type { ApprovalSpec } from '../spec/schema';
import { durationMs } from '../spec/duration';
import { ErrorTypes } from '../shared';
import type { ApprovalDecision, ApprovalSignalInput, ApproveInput, PipelineStatus, RejectInput } from './messages';

/** The reviewer named on decisions champ takes itself. */
const SYSTEM_REVIEWER = 'champ';

/** The decision as the model registry records it on the package. */
export function packageApproval(modelPackageArn: string, decision: ApprovalDecision): SetApprovalInput {
  return { modelPackageArn, status: decision.decision === 'approved' ? 'Approved' : 'Rejected', reviewer: decision.reviewer, reason: decision.comment };
}

/** How champ itself rejects the package it registered, when the run is undone. */
export function systemRejection(modelPackageArn: string, reason: string): SetApprovalInput {
  return { modelPackageArn, status: 'Rejected', reviewer: SYSTEM_REVIEWER, reason };
}

/** An update's input as it may arrive: from a client that ignored the types. */
type UntrustedUpdate = { modelVersion?: unknown; reviewer?: unknown; comment?: unknown; reason?: unknown } | undefined;

export class Approval {
  private current?: ApprovalDecision;

  /** `status` is the run's status: its `approval` and `ignoredSignals` are kept here. */
  constructor(private readonly status: PipelineStatus) {}

  get decision(): ApprovalDecision | undefined {
    return this.current;
  }

  // --- the pipeline's side -----------------------------------------------------

  notRequired(modelVersion: number): ApprovalDecision {
    this.status.approval = { required: false, awaiting: false, modelVersion };
    return {
      decision: 'approved',
      reviewer: `${SYSTEM_REVIEWER} (approval not required)`,
      comment: 'the spec does not require approval',
      modelVersion,
      via: 'auto',
    };
  }

  /** Awaits a reviewer's decision on `modelVersion` until the spec's deadline, then decides as the spec says. */
  async awaitDecision(modelVersion: number, spec: ApprovalSpec): Promise<ApprovalDecision> {
    const timeout = durationMs(spec.timeout);
    this.status.approval = { required: true, awaiting: true, modelVersion, deadline: new Date(Date.now() + timeout).toISOString() };
    await wf.condition(() => this.current !== undefined, timeout);
    this.status.approval.awaiting = false;
    // A decision that arrived with the deadline's timer still counts: its sender was told it did.
    if (this.current) return this.current;
    const approve = spec.onTimeout === 'approve';
    return {
      decision: approve ? 'approved' : 'rejected',
      reviewer: `${SYSTEM_REVIEWER} (approval timed out)`,
      comment: `no decision within ${spec.timeout}; spec.approval.onTimeout is ${spec.onTimeout}`,
      modelVersion,
      via: 'timeout',
    };
  }

  /** Takes the decision the run goes on with, whoever made it. */
  settle(decision: ApprovalDecision): void {
    this.current = decision;
    Object.assign(this.status.approval ?? {}, { decision: decision.decision, reviewer: decision.reviewer });
    wf.log.info(`model version ${decision.modelVersion} ${decision.decision}`, { reviewer: decision.reviewer, via: decision.via });
  }

  /** The run ends (failed or cancelled) without a decision. */
  abandon(): void {
    if (this.status.approval) this.status.approval.awaiting = false;
  }

  // --- the reviewers' side: message handlers -----------------------------------

  /** An update's validator: refuses, before anything reaches history, what the handler could not take. */
  validate(input: UntrustedUpdate, action: 'approve' | 'reject'): void {
    if (typeof input?.reviewer !== 'string' || input.reviewer.trim() === '') {
      throw ApplicationFailure.nonRetryable(`${action}: reviewer is required (a non-empty name)`, ErrorTypes.InvalidApproval);
    }
    // The handler reads these as strings; anything else would throw inside it and fail the workflow task.
    for (const field of ['comment', 'reason'] as const) {
      const value = input[field];
      if (value !== undefined && value !== null && typeof value !== 'string') {
        throw ApplicationFailure.nonRetryable(`${action}: ${field} must be text (got ${typeof value}); omit it or send a string`, ErrorTypes.InvalidApproval);
      }
    }
    if (typeof input.modelVersion !== 'number' || !Number.isInteger(input.modelVersion)) {
      throw ApplicationFailure.nonRetryable(`${action}: modelVersion must be an integer (the version awaiting approval)`, ErrorTypes.InvalidApproval);
    }
    const problem = this.problem(input.modelVersion);
    if (problem) throw ApplicationFailure.nonRetryable(`${action}: ${problem}`, ErrorTypes.InvalidApproval);
  }

  approve(input: ApproveInput): ApprovalDecision {
    return this.decide({ decision: 'approved', reviewer: input.reviewer.trim(), comment: input.comment ?? '', modelVersion: input.modelVersion, via: 'update' });
  }

  reject(input: RejectInput): ApprovalDecision {
    return this.decide({
      decision: 'rejected',
      reviewer: input.reviewer.trim(),
      comment: input.reason?.trim() || `rejected by ${input.reviewer.trim()}`,
      modelVersion: input.modelVersion,
      via: 'update',
    });
  }

  signal(input: ApprovalSignalInput): void {
    // A signal cannot be refused, so a malformed one is ignored, never read as a rejection.
    const problem =
      typeof input?.approved !== 'boolean'
        ? `"approved" must be true or false (got ${JSON.stringify(input?.approved) ?? 'nothing'}); send {"approved": true, "reviewer": "<name>"}`
        : this.problem(input.modelVersion);
    if (problem) {
      this.status.ignoredSignals += 1;
      wf.log.warn(`approval signal ignored: ${problem}`, { signal: input });
      return;
    }
    const approved = input.approved;
    const reviewer = (typeof input.reviewer === 'string' && input.reviewer.trim()) || 'unnamed reviewer (signal)';
    this.decide({
      decision: approved ? 'approved' : 'rejected',
      reviewer,
      comment: (typeof input.comment === 'string' && input.comment.trim()) || `${approved ? 'approved' : 'rejected'} by ${reviewer}`,
      modelVersion: this.status.approval?.modelVersion ?? 0,
      via: 'signal',
    });
  }

  /** Why an approval for `modelVersion` cannot be taken now, or undefined when it can. */
  private problem(modelVersion: number | undefined): string | undefined {
    const approval = this.status.approval;
    if (!approval?.awaiting || this.current) {
      return `pipeline ${this.status.pipeline || '(unnamed)'} is not awaiting approval (stage ${this.status.stage})`;
    }
    if (modelVersion !== undefined && modelVersion !== approval.modelVersion) {
      return `model version ${modelVersion} is not the one awaiting approval; version ${approval.modelVersion} is`;
    }
    return undefined;
  }

  private decide(decision: ApprovalDecision): ApprovalDecision {
    // Two messages in one activation both pass validation before either handler runs.
    if (this.current) {
      throw ApplicationFailure.nonRetryable(`model version ${this.current.modelVersion} was already ${this.current.decision}`, ErrorTypes.InvalidApproval);
    }
    this.current = decision;
    if (this.status.approval) this.status.approval.awaiting = false;
    return decision;
  }
}
