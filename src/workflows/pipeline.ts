// trainingPipeline: build -> train -> gate -> register -> approve -> deploy ->
// wait InService -> verify (else roll back) -> promote. Deterministic: every
// side effect is an activity; names derive from the workflow run.
import * as wf from '@temporalio/workflow';
import { ActivityFailure, ApplicationFailure, TemporalFailure, TimeoutFailure } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type {
  BuildImageResult,
  ChampionInfo,
  DeployEndpointResult,
  FingerprintDataResult,
  PipelineActivities,
  RegisteredCandidate,
  TrainingResult,
} from '../activities/types';
import type { PipelineSpec } from '../spec/schema';
import { pipelineResourceNames, type PipelineResourceNames } from '../aws/naming';
import { durationMs } from '../spec/duration';
import { ErrorTypes, NON_RETRYABLE_ERROR_TYPES, SEARCH_ATTRIBUTES } from '../shared';
import { evaluateGate, gateFailureReason, type GateResult } from './gate';
import {
  approvalSignal,
  approveUpdate,
  rejectUpdate,
  statusQuery,
  type ApprovalDecision,
  type CreatedResource,
  type PipelineEnd,
  type PipelineInput,
  type PipelineOutcome,
  type PipelineResult,
  type PipelineStage,
  type PipelineStatus,
  type ResourceKind,
  type StageTiming,
} from './messages';

const SA_PIPELINE = defineSearchAttributeKey(SEARCH_ATTRIBUTES.pipeline, SearchAttributeType.KEYWORD);
const SA_STAGE = defineSearchAttributeKey(SEARCH_ATTRIBUTES.stage, SearchAttributeType.KEYWORD);
const SA_OUTCOME = defineSearchAttributeKey(SEARCH_ATTRIBUTES.outcome, SearchAttributeType.KEYWORD);

const DEFAULT_POLL = { initialSeconds: 10, maxSeconds: 60 };
const SYSTEM_REVIEWER = 'champ';

/** Quick control-plane calls: retried with backoff, except for errors no retry can mend. */
const CONTROL_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: '2m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 10,
    nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
  },
};

type Activities = PipelineActivities;

interface Compensation {
  what: string;
  run: (reason: string) => Promise<void>;
}

export async function trainingPipeline(input: PipelineInput): Promise<PipelineResult> {
  const run = new PipelineRun(input);
  return run.execute();
}

class PipelineRun {
  private readonly control = wf.proxyActivities<Activities>(CONTROL_OPTIONS);
  // Proxies whose timeouts come from the spec; made once the spec is validated.
  private trainingWait!: Activities;
  private endpointWait!: Activities;
  private builds!: Activities;
  private data!: Activities;

  private spec!: PipelineSpec;
  private names!: PipelineResourceNames;
  private readonly status: PipelineStatus;
  private readonly created: CreatedResource[] = [];
  private readonly warnings: string[] = [];
  private compensations: Compensation[] = [];
  /** Set when putting the endpoint back failed: it may still use our config and model, so keep them. */
  private endpointMayUseNewConfig = false;

  private decision?: ApprovalDecision;
  private image?: BuildImageResult;
  private training?: TrainingResult;
  private candidate?: RegisteredCandidate;
  private deployment?: DeployEndpointResult;

  constructor(private readonly input: PipelineInput) {
    const raw = input.spec as Partial<PipelineSpec> | undefined;
    this.status = {
      stage: 'starting',
      pipeline: typeof raw?.name === 'string' ? raw.name : '',
      trigger: input.trigger ?? 'manual',
      requestedBy: input.requestedBy,
      candidate: { metrics: [] },
      champion: null,
      resources: { endpoint: raw?.deployment?.endpointName ?? '' },
      logs: {},
      timings: [],
      ignoredSignals: 0,
    };
    this.listen();
    if (this.status.pipeline) wf.upsertSearchAttributes([{ key: SA_PIPELINE, value: this.status.pipeline }]);
  }

  async execute(): Promise<PipelineResult> {
    try {
      await this.validateSpec();
      await this.buildImage();
      const data = await this.fingerprintData();
      if (await this.dataUnchangedSinceChampion(data)) {
        return this.finish('skipped-data-unchanged', `data fingerprint ${data.fingerprint} equals the champion's`);
      }
      await this.train();
      const gate = await this.judge();
      if (!gate.passed) return this.finish('rejected-by-gate', gateFailureReason(gate));
      await this.registerCandidate(data);
      const decision = await this.approval();
      if (decision.decision === 'rejected') {
        return this.finish(decision.via === 'timeout' ? 'approval-timed-out' : 'rejected-by-reviewer', decision.comment);
      }
      await this.deploy();
      const failure = await this.verify();
      if (failure) {
        await this.rollBack(failure);
        return this.finish('rolled-back', failure);
      }
      await this.promote();
      return this.finish('deployed');
    } catch (err) {
      throw await this.fail(err);
    }
  }

  // --- stages ----------------------------------------------------------------

  private async validateSpec(): Promise<void> {
    await this.stage('validating', async () => {
      this.pollSettings(); // a bad poll input fails before any work
      const { spec, suggestedPoll } = await this.control.validateSpec({ spec: this.input.spec });
      const poll = this.pollSettings(suggestedPoll);
      this.spec = spec;
      const info = wf.workflowInfo();
      this.names = pipelineResourceNames(spec.name, info.workflowId, info.runId);
      this.status.pipeline = spec.name;
      this.status.resources.endpoint = spec.deployment.endpointName;
      this.makeProxies(spec, poll);
    });
  }

  private async buildImage(): Promise<void> {
    await this.stage('building', async () => {
      this.image = await this.builds.buildImage({ pipeline: this.spec.name, image: this.spec.image });
      this.status.resources.imageUri = this.image.imageUri;
      if (this.image.built) this.track('image', this.image.imageUri);
    });
  }

  private async fingerprintData(): Promise<FingerprintDataResult> {
    return this.stage('fingerprinting', () => this.data.fingerprintData({ inputs: this.spec.training.inputs }));
  }

  /** A scheduled run has nothing to add when the champion was trained on exactly this data. */
  private async dataUnchangedSinceChampion(data: FingerprintDataResult): Promise<boolean> {
    if (this.status.trigger !== 'schedule' || !this.spec.schedule?.skipWhenDataUnchanged) return false;
    const champion = await this.control.describeChampion({ modelPackageGroupName: this.names.modelPackageGroup });
    this.noteChampion(champion);
    return champion?.dataFingerprint !== undefined && champion.dataFingerprint === data.fingerprint;
  }

  private async train(): Promise<void> {
    await this.stage('training', async () => {
      const jobName = this.names.trainingJob;
      this.status.resources.trainingJob = jobName;
      // Registered before the create: a cancellation while startTraining runs
      // may land after SageMaker accepted the job. Stopping a job that never started is a no-op.
      const stop = this.compensate(`stop training job ${jobName}`, () => this.control.stopTraining({ jobName }));
      const started = await this.control.startTraining({
        jobName,
        imageUri: this.imageUri(),
        training: this.spec.training,
        tags: this.tags(),
      });
      this.track('training-job', started.jobName);
      this.training = await this.trainingWait.awaitTraining({ jobName });
      this.dropCompensation(stop);
      this.status.candidate.metrics = this.training.metrics;
      this.status.logs.training = this.training.logs;
    });
  }

  private async judge(): Promise<GateResult> {
    return this.stage('gating', async () => {
      const champion = await this.control.describeChampion({ modelPackageGroupName: this.names.modelPackageGroup });
      this.noteChampion(champion);
      const gate = evaluateGate(this.spec.gate, this.trainingResult().metrics, champion);
      this.status.gate = gate;
      wf.log.info(`gate ${gate.passed ? 'passed' : 'failed'}`, { pipeline: this.spec.name, rules: gate.rules.map((r) => `${r.rule}: ${r.verdict}`) });
      return gate;
    });
  }

  private async registerCandidate(data: FingerprintDataResult): Promise<void> {
    await this.stage('registering', async () => {
      const training = this.trainingResult();
      const info = wf.workflowInfo();
      this.candidate = await this.control.registerCandidate({
        modelPackageGroupName: this.names.modelPackageGroup,
        pipelineDescription: this.spec.description,
        imageUri: this.imageUri(),
        modelArtifact: training.modelArtifact,
        metrics: training.metrics,
        trainingJobName: training.jobName,
        dataUri: this.dataUri(),
        dataFingerprint: data.fingerprint,
        workflowId: info.workflowId,
      });
      const arn = this.candidate.modelPackageArn;
      this.track('model-package', arn);
      this.status.candidate.version = this.candidate.version;
      this.status.resources.modelPackageArn = arn;
      this.compensate(`reject model package ${arn}`, (reason) =>
        this.control.setApproval({ modelPackageArn: arn, status: 'Rejected', reviewer: SYSTEM_REVIEWER, reason }),
      );
    });
  }

  private async approval(): Promise<ApprovalDecision> {
    const candidate = this.registered();
    const approval = this.spec.approval;
    let decision: ApprovalDecision;
    if (!approval.required) {
      decision = {
        decision: 'approved',
        reviewer: `${SYSTEM_REVIEWER} (approval not required)`,
        comment: 'the spec does not require approval',
        modelVersion: candidate.version,
        via: 'auto',
      };
      this.status.approval = { required: false, awaiting: false, modelVersion: candidate.version };
    } else {
      decision = await this.stage('awaiting-approval', async () => {
        const timeout = durationMs(approval.timeout);
        this.status.approval = {
          required: true,
          awaiting: true,
          modelVersion: candidate.version,
          deadline: new Date(Date.now() + timeout).toISOString(),
        };
        await wf.condition(() => this.decision !== undefined, timeout);
        this.status.approval.awaiting = false;
        // A decision that arrived with the deadline's timer still counts: its sender was told it did.
        if (this.decision) return this.decision;
        const approve = approval.onTimeout === 'approve';
        return {
          decision: approve ? 'approved' : 'rejected',
          reviewer: `${SYSTEM_REVIEWER} (approval timed out)`,
          comment: `no decision within ${approval.timeout}; spec.approval.onTimeout is ${approval.onTimeout}`,
          modelVersion: candidate.version,
          via: 'timeout',
        } satisfies ApprovalDecision;
      });
    }
    this.decision = decision;
    Object.assign(this.status.approval ?? {}, { decision: decision.decision, reviewer: decision.reviewer });
    wf.log.info(`model version ${candidate.version} ${decision.decision}`, { reviewer: decision.reviewer, via: decision.via });
    await this.control.setApproval({
      modelPackageArn: candidate.modelPackageArn,
      status: decision.decision === 'approved' ? 'Approved' : 'Rejected',
      reviewer: decision.reviewer,
      reason: decision.comment,
    });
    // A rejected package is already marked so: nothing left to undo for it.
    if (decision.decision === 'rejected') this.compensations = [];
    return decision;
  }

  private async deploy(): Promise<void> {
    await this.stage('deploying', async () => {
      const { model, endpointConfig } = this.names;
      const spec = this.spec.deployment;
      const training = this.trainingResult();

      await this.control.createModel({
        modelName: model,
        imageUri: this.imageUri(),
        modelArtifact: training.modelArtifact,
        roleArn: this.spec.training.roleArn,
        environment: spec.environment,
        tags: this.tags(),
      });
      this.track('model', model);
      this.status.resources.model = model;
      this.compensate(`delete model ${model}`, async () => {
        if (this.keepForEndpoint('model', model)) return;
        await this.control.deleteModel({ name: model });
        this.markDeleted('model', model);
      });

      await this.control.createEndpointConfig({
        configName: endpointConfig,
        modelName: model,
        variantName: spec.variantName,
        instanceType: spec.instanceType,
        instanceCount: spec.instanceCount,
        tags: this.tags(),
      });
      this.track('endpoint-config', endpointConfig);
      this.status.resources.endpointConfig = endpointConfig;
      this.compensate(`delete endpoint config ${endpointConfig}`, async () => {
        if (this.keepForEndpoint('endpoint config', endpointConfig)) return;
        await this.control.deleteEndpointConfig({ name: endpointConfig });
        this.markDeleted('endpoint-config', endpointConfig);
      });

      const endpointName = spec.endpointName;
      // What serves now is recorded in history before anything changes, so a
      // retry, a crash or a cancellation mid-deploy still knows what to put back.
      const before = await this.endpointWait.describeEndpoint({ endpointName });
      this.status.resources.previousEndpointConfig = before?.configName;
      // Registered before the call: a cancellation while it runs must undo it too.
      const undo = this.compensate(...this.endpointUndo(endpointName, endpointConfig, before?.configName, before === null));
      const deployed = await this.endpointWait.deployEndpoint({ endpointName, configName: endpointConfig, strategy: spec.strategy, tags: this.tags(), before });
      this.deployment = deployed;
      if (deployed.logs) this.status.logs.endpoint = deployed.logs;
      this.dropCompensation(undo);
      if (deployed.action === 'created') this.track('endpoint', endpointName);
      this.compensate(...this.endpointUndo(endpointName, endpointConfig, deployed.previousConfigName ?? before?.configName, deployed.action === 'created'));
    });
  }

  /** How to undo our change to the endpoint: delete what we created, else put back what served. */
  private endpointUndo(endpointName: string, newConfig: string, previous: string | undefined, created: boolean): [string, (reason: string) => Promise<void>] {
    if (created) {
      return [
        `delete endpoint ${endpointName}`,
        async () => {
          await this.guardEndpoint(() => this.control.deleteEndpoint({ name: endpointName }));
          this.markDeleted('endpoint', endpointName);
        },
      ];
    }
    return [
      `put endpoint ${endpointName} back on ${previous ?? '(unknown config)'}`,
      async () => {
        if (!previous || previous === newConfig) {
          this.endpointMayUseNewConfig = true;
          throw ApplicationFailure.nonRetryable(
            `endpoint ${endpointName} was updated but its previous config is unknown; it is left as it is`,
            ErrorTypes.EndpointFailed,
          );
        }
        // The endpoint served before this run: it is put back, never deleted.
        await this.guardEndpoint(async () => {
          await this.endpointWait.rollbackEndpoint({ endpointName, configName: previous });
          const state = await this.endpointWait.awaitEndpoint({ endpointName });
          if (state.configName && state.configName !== previous) {
            throw ApplicationFailure.nonRetryable(
              `after the rollback endpoint ${endpointName} runs ${state.configName}, not ${previous} (status ${state.status}${state.failureReason ? `: ${state.failureReason}` : ''})`,
              ErrorTypes.EndpointFailed,
            );
          }
        });
      },
    ];
  }

  /** Returns why the new deployment is not good, or undefined when it is. */
  private async verify(): Promise<string | undefined> {
    const endpointName = this.spec.deployment.endpointName;
    const expected = this.names.endpointConfig;
    const state = await this.stage('awaiting-endpoint', () => orEndpointFailure(this.endpointWait.awaitEndpoint({ endpointName })));
    return this.stage('verifying', async () => {
      if (typeof state === 'string') return state;
      if (state.status !== 'InService') return `endpoint ${endpointName} is ${state.status}${state.failureReason ? `: ${state.failureReason}` : ''}`;
      if (state.failureReason) return `endpoint ${endpointName} reports a failed update: ${state.failureReason}`;
      if (state.configName && state.configName !== expected) {
        return `endpoint ${endpointName} runs config ${state.configName}, not ${expected}`;
      }
      const verdict = await orEndpointFailure(
        this.control.verifyEndpoint({ endpointName, expectedConfigName: expected, smokeTest: this.spec.deployment.smokeTest }),
      );
      if (typeof verdict === 'string') return verdict;
      return verdict.ok ? undefined : (verdict.reason ?? 'verification failed without a reason');
    });
  }

  /** Undoing a deployment is unwinding the saga: endpoint back (or deleted), then config and model. */
  private async rollBack(reason: string): Promise<void> {
    await this.stage('rolling-back', async () => {
      wf.log.warn('verification failed, rolling back', { pipeline: this.spec.name, reason });
      // A cancellation arriving now must not leave the endpoint half put back.
      await wf.CancellationScope.nonCancellable(() => this.unwind(`rolled back: ${reason}`, 'strict'));
    });
  }

  private async promote(): Promise<void> {
    // The endpoint now serves a verified model: nothing after this point rolls it back.
    this.compensations = [];
    await this.stage('promoting', async () => {
      const candidate = this.registered();
      await this.control.markChampion({
        modelPackageGroupName: this.names.modelPackageGroup,
        modelPackageArn: candidate.modelPackageArn,
        endpointName: this.spec.deployment.endpointName,
      });
      try {
        const cleaned = await this.control.cleanupOldVersions({
          pipeline: this.spec.name,
          endpointName: this.spec.deployment.endpointName,
          keep: this.spec.deployment.keep,
        });
        wf.log.info('old versions cleaned up', { configs: cleaned.deletedConfigs, models: cleaned.deletedModels });
      } catch (err) {
        if (wf.isCancellation(err)) throw err;
        // Housekeeping: the next run cleans up again, so the deployment stands.
        this.warn(`old versions not cleaned up: ${describe(err)}`);
      }
    });
  }

  // --- ends ------------------------------------------------------------------

  private finish(outcome: PipelineOutcome, reason?: string): PipelineResult {
    this.end(outcome, reason);
    const training = this.training;
    return {
      outcome,
      reason,
      modelVersion: this.candidate?.version,
      modelPackageArn: this.candidate?.modelPackageArn,
      imageUri: this.image?.imageUri,
      trainingJobName: training?.jobName,
      endpointName: this.deployment ? this.spec.deployment.endpointName : undefined,
      endpointConfigName: this.deployment ? this.names.endpointConfig : undefined,
      metrics: training?.metrics,
      gate: this.status.gate,
      approval: this.decision
        ? { decision: this.decision.decision, reviewer: this.decision.reviewer, comment: this.decision.comment, via: this.decision.via }
        : undefined,
      resourcesCreated: this.created,
      logs: this.status.logs,
      timings: this.status.timings.map((t) => ({ ...t, endedAt: t.endedAt ?? t.startedAt })),
      warnings: this.warnings,
    };
  }

  /** Undoes what this run made, then returns the error the workflow fails (or is cancelled) with. */
  private async fail(err: unknown): Promise<unknown> {
    const cancelled = wf.isCancellation(err);
    const reason = cancelled ? 'pipeline cancelled' : `pipeline failed: ${describe(err)}`;
    if (cancelled) wf.log.warn('pipeline cancelled');
    else wf.log.error('pipeline failed', { reason });
    this.closeOpenTiming();
    if (this.status.approval) this.status.approval.awaiting = false;
    if (this.compensations.length > 0) {
      await wf.CancellationScope.nonCancellable(() => this.stage('compensating', () => this.unwind(reason, 'lenient')));
    }
    this.end(cancelled ? 'cancelled' : 'failed', reason);
    if (cancelled || err instanceof TemporalFailure) return err;
    // A plain Error would only fail the workflow task and retry forever; the compensations already ran.
    return ApplicationFailure.create({
      type: ErrorTypes.PipelineBug,
      message: reason,
      nonRetryable: true,
      cause: err instanceof Error ? err : undefined,
    });
  }

  private end(outcome: PipelineEnd, reason?: string): void {
    this.status.stage = 'done';
    this.status.outcome = outcome;
    this.status.reason = reason;
    wf.upsertSearchAttributes([
      { key: SA_STAGE, value: 'done' },
      { key: SA_OUTCOME, value: outcome },
    ]);
    wf.log.info(`pipeline ${outcome}`, { pipeline: this.status.pipeline, reason });
  }

  // --- saga ------------------------------------------------------------------

  private compensate(what: string, run: (reason: string) => Promise<void>): Compensation {
    const c = { what, run };
    this.compensations.push(c);
    return c;
  }

  private dropCompensation(c: Compensation): void {
    this.compensations = this.compensations.filter((x) => x !== c);
  }

  /**
   * Runs the compensations newest first, each at most once. `strict` (a
   * rollback) lets the first error through: the caller's failure path then
   * unwinds the rest leniently, logging and swallowing their errors.
   */
  private async unwind(reason: string, mode: 'strict' | 'lenient'): Promise<void> {
    for (let c = this.compensations.pop(); c; c = this.compensations.pop()) {
      try {
        wf.log.info(`compensating: ${c.what}`);
        await c.run(reason);
      } catch (err) {
        if (mode === 'strict') throw err;
        wf.log.error(`compensation failed: ${c.what}`, { error: describe(err) });
        this.warnings.push(`compensation failed: ${c.what}: ${describe(err)}`);
      }
    }
  }

  private async guardEndpoint(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.endpointMayUseNewConfig = true;
      throw err;
    }
  }

  private keepForEndpoint(what: string, name: string): boolean {
    if (!this.endpointMayUseNewConfig) return false;
    this.warn(`${what} ${name} kept: the endpoint may still use it`);
    return true;
  }

  /** Logged now and returned with the result. */
  private warn(message: string): void {
    wf.log.warn(message);
    this.warnings.push(message);
  }

  private track(kind: ResourceKind, name: string): void {
    this.created.push({ kind, name });
  }

  private markDeleted(kind: ResourceKind, name: string): void {
    for (const r of this.created) if (r.kind === kind && r.name === name) r.deleted = true;
  }

  // --- approval messages -------------------------------------------------------

  private listen(): void {
    wf.setHandler(statusQuery, () => this.status);
    wf.setHandler(
      approveUpdate,
      (input) => this.decide({ decision: 'approved', reviewer: input.reviewer.trim(), comment: input.comment ?? '', modelVersion: input.modelVersion, via: 'update' }),
      { validator: (input) => this.validateApproval(input, 'approve') },
    );
    wf.setHandler(
      rejectUpdate,
      (input) =>
        this.decide({
          decision: 'rejected',
          reviewer: input.reviewer.trim(),
          comment: input.reason?.trim() || `rejected by ${input.reviewer.trim()}`,
          modelVersion: input.modelVersion,
          via: 'update',
        }),
      { validator: (input) => this.validateApproval(input, 'reject') },
    );
    wf.setHandler(approvalSignal, (input) => {
      // A signal cannot be refused, so a malformed one is ignored, never read as a rejection.
      const problem =
        typeof input?.approved !== 'boolean'
          ? `"approved" must be true or false (got ${JSON.stringify(input?.approved) ?? 'nothing'}); send {"approved": true, "reviewer": "<name>"}`
          : this.approvalProblem(input.modelVersion);
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
    });
  }

  private validateApproval(input: { modelVersion?: unknown; reviewer?: unknown; comment?: unknown; reason?: unknown } | undefined, action: string): void {
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
    const problem = this.approvalProblem(input.modelVersion);
    if (problem) throw ApplicationFailure.nonRetryable(`${action}: ${problem}`, ErrorTypes.InvalidApproval);
  }

  /** Why an approval for `modelVersion` cannot be taken now, or undefined when it can. */
  private approvalProblem(modelVersion: number | undefined): string | undefined {
    const approval = this.status.approval;
    if (!approval?.awaiting || this.decision) {
      return `pipeline ${this.status.pipeline || '(unnamed)'} is not awaiting approval (stage ${this.status.stage})`;
    }
    if (modelVersion !== undefined && modelVersion !== approval.modelVersion) {
      return `model version ${modelVersion} is not the one awaiting approval; version ${approval.modelVersion} is`;
    }
    return undefined;
  }

  private decide(decision: ApprovalDecision): ApprovalDecision {
    // Two messages in one activation both pass validation before either handler runs.
    if (this.decision) {
      throw ApplicationFailure.nonRetryable(`model version ${this.decision.modelVersion} was already ${this.decision.decision}`, ErrorTypes.InvalidApproval);
    }
    this.decision = decision;
    if (this.status.approval) this.status.approval.awaiting = false;
    return decision;
  }

  // --- plumbing --------------------------------------------------------------

  private async stage<T>(stage: PipelineStage, fn: () => Promise<T>): Promise<T> {
    this.closeOpenTiming();
    this.status.stage = stage;
    const timing: StageTiming = { stage, startedAt: new Date().toISOString() };
    this.status.timings.push(timing);
    wf.upsertSearchAttributes([{ key: SA_STAGE, value: stage }]);
    wf.log.info(`stage ${stage}`, { pipeline: this.status.pipeline });
    const result = await fn();
    timing.endedAt = new Date().toISOString();
    return result;
  }

  private closeOpenTiming(): void {
    const last = this.status.timings[this.status.timings.length - 1];
    if (last && !last.endedAt) last.endedAt = new Date().toISOString();
  }

  private pollSettings(suggested?: { initialSeconds: number; maxSeconds: number }): { initialMs: number; maxMs: number } {
    const defaults = this.input.poll ? DEFAULT_POLL : (suggested ?? DEFAULT_POLL);
    const initial = this.input.poll?.initialSeconds ?? defaults.initialSeconds;
    const max = this.input.poll?.maxSeconds ?? Math.max(initial, defaults.maxSeconds);
    for (const [field, value] of [
      ['poll.initialSeconds', initial],
      ['poll.maxSeconds', max],
    ] as const) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        throw ApplicationFailure.nonRetryable(
          `${field} must be a positive number of seconds (got ${String(value)}); omit it for the default`,
          ErrorTypes.InvalidInput,
        );
      }
    }
    return { initialMs: Math.round(initial * 1000), maxMs: Math.round(Math.max(initial, max) * 1000) };
  }

  private makeProxies(spec: PipelineSpec, poll: { initialMs: number; maxMs: number }): void {
    const pollRetry = {
      initialInterval: poll.initialMs,
      backoffCoefficient: 1.5,
      maximumInterval: poll.maxMs,
      // maximumAttempts left unset (unlimited): the deadline is scheduleToCloseTimeout.
      nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
    };
    this.trainingWait = wf.proxyActivities<Activities>({
      startToCloseTimeout: '1m',
      scheduleToCloseTimeout: durationMs(spec.timeouts.training),
      retry: pollRetry,
    });
    this.endpointWait = wf.proxyActivities<Activities>({
      startToCloseTimeout: '1m',
      scheduleToCloseTimeout: durationMs(spec.timeouts.deploy),
      retry: pollRetry,
    });
    this.builds = wf.proxyActivities<Activities>({
      startToCloseTimeout: durationMs(spec.timeouts.build),
      heartbeatTimeout: '1m',
      retry: { ...CONTROL_OPTIONS.retry, maximumAttempts: 3 },
    });
    // Hashing every input object can take a while on a large data set.
    this.data = wf.proxyActivities<Activities>({ ...CONTROL_OPTIONS, startToCloseTimeout: '15m' });
  }

  private noteChampion(champion: ChampionInfo | null): void {
    this.status.champion = champion ? { version: champion.version, metrics: champion.metrics } : null;
  }

  private tags(): Record<string, string> {
    const info = wf.workflowInfo();
    return { ...this.spec.tags, 'champ:pipeline': this.spec.name, 'champ:workflow-id': info.workflowId };
  }

  private dataUri(): string {
    const inputs = this.spec.training.inputs;
    return (inputs.find((c) => c.name === 'train') ?? inputs[0]).uri;
  }

  private imageUri(): string {
    if (!this.image) throw new Error('image not built yet');
    return this.image.imageUri;
  }

  private trainingResult(): TrainingResult {
    if (!this.training) throw new Error('training not finished yet');
    return this.training;
  }

  private registered(): RegisteredCandidate {
    if (!this.candidate) throw new Error('candidate not registered yet');
    return this.candidate;
  }
}

/** The activity's result, or the reason its endpoint failure gives; any other failure is the pipeline's and is thrown. */
async function orEndpointFailure<T>(call: Promise<T>): Promise<T | string> {
  try {
    return await call;
  } catch (err) {
    const reason = endpointFailure(err);
    if (reason === undefined) throw err;
    return reason;
  }
}

/** The reason an endpoint failure gives, or undefined when `err` is not one. */
function endpointFailure(err: unknown): string | undefined {
  if (!(err instanceof ActivityFailure)) return undefined;
  const cause = err.cause;
  if (cause instanceof ApplicationFailure && (cause.type === ErrorTypes.EndpointFailed || cause.type === ErrorTypes.SmokeTestFailed)) {
    return cause.message;
  }
  if (cause instanceof TimeoutFailure) return `endpoint did not settle in time (${err.activityType} timed out)`;
  return undefined;
}

function describe(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return `${err.activityType}: ${describe(err.cause)}`;
  if (err instanceof ApplicationFailure) return err.type ? `${err.type}: ${err.message}` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
