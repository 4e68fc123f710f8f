// trainingPipeline: build -> fingerprint -> train -> gate -> register ->
// approve -> deploy -> verify (else roll back) -> promote. Deterministic: every
// side effect is an activity; names derive from the workflow run. Running
// workflows replay this code: a change to the activities it calls, their order
// or proxies, its timers or its search attribute upserts goes behind `patched()`.
import * as wf from '@temporalio/workflow';
import { ApplicationFailure } from '@temporalio/workflow';
import type { BuildImageResult, ChampionInfo, FingerprintDataResult, RegisteredCandidate, TrainingResult } from '../activities/types';
import type { PipelineSpec } from '../spec/schema';
import { pipelineResourceNames, type PipelineResourceNames } from '../aws/naming';
import { Approval, packageApproval, systemRejection } from './approval';
import { Deployment, Superseded } from './deployment';
import { EndpointRequest, ENDPOINT_ENTITY_PATCH } from './endpoint/request';
import { describe, DeploymentFailure, workflowFailure } from './failures';
import { evaluateGate, gateFailureReason, type GateResult } from './gate';
import { approvalSignal, approveUpdate, rejectUpdate, statusQuery, type ApprovalDecision, type PipelineInput, type PipelineOutcome, type PipelineResult } from './messages';
import { checkedInput } from './input';
import { controlActivities, entityActivities, pollIntervals, specActivities, type PollIntervals, type SpecActivities } from './options';
import { RunRecord, type RunFacts } from './record';
import { Saga } from './saga';
import { ErrorTypes } from '../shared';

export async function trainingPipeline(input: PipelineInput): Promise<PipelineResult> {
  // Runs started before the input check existed replay without it.
  const strict = wf.patched('input-check');
  return new PipelineRun(checkedInput(input, strict), strict).execute();
}

class PipelineRun {
  private readonly control = controlActivities();
  private readonly entity = entityActivities();
  private poll!: PollIntervals;
  /** The proxies whose timeouts come from the spec: made once it is validated. */
  private activities!: SpecActivities;
  private spec!: PipelineSpec;
  private names!: PipelineResourceNames;
  private tags!: Record<string, string>;
  private readonly record: RunRecord;
  private readonly approval: Approval;
  private readonly saga: Saga;
  private readonly facts: RunFacts = {};

  constructor(private readonly input: PipelineInput, strict: boolean) {
    this.record = new RunRecord(input);
    this.approval = new Approval(this.record.status);
    this.saga = new Saga((message) => this.record.note(message));
    this.listen();
    this.record.announce(strict);
  }

  /** The messages the run answers: wiring only, the approval state machine decides. */
  private listen(): void {
    wf.setHandler(statusQuery, () => this.record.status);
    wf.setHandler(approveUpdate, (input) => this.approval.approve(input), { validator: (input) => this.approval.validate(input, 'approve') });
    wf.setHandler(rejectUpdate, (input) => this.approval.reject(input), { validator: (input) => this.approval.validate(input, 'reject') });
    wf.setHandler(approvalSignal, (input) => this.approval.signal(input));
  }

  async execute(): Promise<PipelineResult> {
    try {
      await this.validateSpec();
      const image = await this.buildImage();
      const data = await this.record.stage('fingerprinting', () => this.activities.data.fingerprintData({ inputs: this.spec.training.inputs }));
      if (await this.dataUnchangedSinceChampion(data)) {
        return this.finish('skipped-data-unchanged', `data fingerprint ${data.fingerprint} equals the champion's`);
      }
      const training = await this.train(image);
      const gate = await this.judge(training);
      if (!gate.passed) return this.finish('rejected-by-gate', gateFailureReason(gate));
      const candidate = await this.registerCandidate(image, training, data);
      const decision = await this.approve(candidate);
      if (decision.decision === 'rejected') {
        return this.finish(decision.via === 'timeout' ? 'approval-timed-out' : 'rejected-by-reviewer', decision.comment);
      }
      // Runs from before the endpoint entity deploy on their own, below.
      if (wf.patched(ENDPOINT_ENTITY_PATCH)) return await this.deployThroughEntity(image, training, candidate, decision);
      const deployment = await this.deploy(image, training);
      const failure = await this.verify(deployment);
      if (failure instanceof Superseded) return this.finish('superseded', failure.reason);
      if (failure) {
        await this.rollBack(failure);
        if (deployment.supersededBy) return this.finish('superseded', `${failure.reason}; not rolled back: ${deployment.supersededBy.reason}`);
        return this.finish('rolled-back', failure.reason);
      }
      const superseded = await this.promote(candidate, deployment);
      if (superseded) return this.finish('superseded', superseded.reason);
      return this.finish('deployed');
    } catch (err) {
      throw await this.fail(err);
    }
  }

  private async validateSpec(): Promise<void> {
    await this.record.stage('validating', async () => {
      pollIntervals(this.input.poll); // a bad poll input fails before any work
      const { spec, suggestedPoll } = await this.control.validateSpec({ spec: this.input.spec });
      const poll = (this.poll = pollIntervals(this.input.poll, suggestedPoll));
      this.spec = spec;
      const info = wf.workflowInfo();
      this.names = pipelineResourceNames(spec.name, info.workflowId, info.runId);
      this.tags = { ...spec.tags, 'champ:pipeline': spec.name, 'champ:workflow-id': info.workflowId };
      this.record.status.pipeline = spec.name;
      this.record.status.resources.endpoint = spec.deployment.endpointName;
      this.activities = specActivities(spec, poll);
    });
  }

  private async buildImage(): Promise<BuildImageResult> {
    return this.record.stage('building', async () => {
      const image = (this.facts.image = await this.activities.builds.buildImage({ pipeline: this.spec.name, image: this.spec.image }));
      this.record.status.resources.imageUri = image.imageUri;
      if (image.built) this.record.track('image', image.imageUri);
      return image;
    });
  }

  /** A scheduled run has nothing to add when the champion was trained on exactly this data. */
  private async dataUnchangedSinceChampion(data: FingerprintDataResult): Promise<boolean> {
    if (this.record.status.trigger !== 'schedule' || !this.spec.schedule?.skipWhenDataUnchanged) return false;
    const champion = await this.champion();
    return champion?.dataFingerprint !== undefined && champion.dataFingerprint === data.fingerprint;
  }

  private async champion(): Promise<ChampionInfo | null> {
    const champion = await this.control.describeChampion({ modelPackageGroupName: this.names.modelPackageGroup });
    this.record.noteChampion(champion);
    return champion;
  }

  private async train(image: BuildImageResult): Promise<TrainingResult> {
    return this.record.stage('training', async () => {
      const jobName = this.names.trainingJob;
      this.record.status.resources.trainingJob = jobName;
      // Registered before the create: a cancellation while startTraining runs
      // may land after SageMaker accepted the job. Stopping a job that never started is a no-op.
      const stop = this.saga.add(`stop training job ${jobName}`, () => this.control.stopTraining({ jobName }));
      const started = await this.control.startTraining({ jobName, imageUri: image.imageUri, training: this.spec.training, tags: this.tags });
      this.record.track('training-job', started.jobName);
      const training = (this.facts.training = await this.activities.trainingWait.awaitTraining({ jobName }));
      this.saga.drop(stop);
      this.record.status.candidate.metrics = training.metrics;
      this.record.status.logs.training = training.logs;
      return training;
    });
  }

  private async judge(training: TrainingResult): Promise<GateResult> {
    return this.record.stage('gating', async () => {
      const gate = evaluateGate(this.spec.gate, training.metrics, await this.champion());
      this.record.status.gate = gate;
      wf.log.info(`gate ${gate.passed ? 'passed' : 'failed'}`, { pipeline: this.spec.name, rules: gate.rules.map((r) => `${r.rule}: ${r.verdict}`) });
      return gate;
    });
  }

  private async registerCandidate(image: BuildImageResult, training: TrainingResult, data: FingerprintDataResult): Promise<RegisteredCandidate> {
    return this.record.stage('registering', async () => {
      const inputs = this.spec.training.inputs;
      const candidate = (this.facts.candidate = await this.control.registerCandidate({
        modelPackageGroupName: this.names.modelPackageGroup,
        pipelineDescription: this.spec.description,
        imageUri: image.imageUri,
        modelArtifact: training.modelArtifact,
        metrics: training.metrics,
        trainingJobName: training.jobName,
        dataUri: (inputs.find((c) => c.name === 'train') ?? inputs[0]).uri,
        dataFingerprint: data.fingerprint,
        workflowId: wf.workflowInfo().workflowId,
      }));
      const arn = candidate.modelPackageArn;
      this.record.track('model-package', arn);
      this.record.status.candidate.version = candidate.version;
      this.record.status.resources.modelPackageArn = arn;
      this.saga.add(`reject model package ${arn}`, (reason) => this.control.setApproval(systemRejection(arn, reason)));
      return candidate;
    });
  }

  private async approve(candidate: RegisteredCandidate): Promise<ApprovalDecision> {
    const spec = this.spec.approval;
    const decision = spec.required
      ? await this.record.stage('awaiting-approval', () => this.approval.awaitDecision(candidate.version, spec))
      : this.approval.notRequired(candidate.version);
    this.approval.settle(decision);
    await this.control.setApproval(packageApproval(candidate.modelPackageArn, decision));
    // A rejected package is already marked so: nothing left to undo for it.
    if (decision.decision === 'rejected') this.saga.clear();
    return decision;
  }

  /**
   * The deploy stage since 'endpoint-entity': one request to the endpoint's
   * entity, which deploys, verifies, rolls back on failure, records the
   * champion and cleans up, one request at a time.
   */
  private async deployThroughEntity(image: BuildImageResult, training: TrainingResult, candidate: RegisteredCandidate, decision: ApprovalDecision): Promise<PipelineResult> {
    const info = wf.workflowInfo();
    const spec = this.spec;
    const { endpointName } = spec.deployment;
    const request = new EndpointRequest(this.entity, this.saga, this.record, {
      requestId: `deploy/${info.workflowId}/${info.runId}`,
      plan: {
        pipeline: spec.name,
        model: this.names.model,
        endpointConfig: this.names.endpointConfig,
        imageUri: image.imageUri,
        modelArtifact: training.modelArtifact,
        roleArn: spec.training.roleArn,
        deployment: spec.deployment,
        deployTimeout: spec.timeouts.deploy,
        tags: this.tags,
      },
      requester: { workflowId: info.workflowId, runId: info.runId },
      requestedBy: this.input.requestedBy ?? this.record.status.trigger,
      approvedBy: decision.reviewer,
      modelVersion: candidate.version,
      modelPackageArn: candidate.modelPackageArn,
      modelPackageGroup: this.names.modelPackageGroup,
      whenFrozen: spec.deployment.whenFrozen ?? 'wait',
      poll: this.poll,
    });
    const outcome = await this.record.stage('deploying', () => request.submit());
    if (outcome.outcome === 'deployed' || outcome.outcome === 'rolled-back' || outcome.outcome === 'superseded') {
      this.facts.deployed = { endpointName, endpointConfigName: outcome.endpointConfigName };
    }
    switch (outcome.outcome) {
      case 'deployed':
        this.saga.clear();
        return this.finish('deployed');
      case 'rolled-back':
        await this.rollBack(new DeploymentFailure('verification-failed', outcome.reason ?? 'rolled back by the endpoint entity'));
        return this.finish('rolled-back', outcome.reason);
      case 'superseded':
        return this.finish('superseded', outcome.reason);
      case 'refused':
        // The candidate stays approved: it can be deployed once the endpoint is unfrozen.
        this.saga.clear();
        return this.finish('endpoint-frozen', outcome.reason);
      default:
        throw ApplicationFailure.nonRetryable(`deployment to endpoint ${endpointName} ${outcome.outcome}: ${outcome.reason ?? 'no reason given'}`, ErrorTypes.EndpointFailed);
    }
  }

  private async deploy(image: BuildImageResult, training: TrainingResult): Promise<Deployment> {
    const { model, endpointConfig } = this.names;
    const plan = { spec: this.spec, model, endpointConfig, imageUri: image.imageUri, modelArtifact: training.modelArtifact, tags: this.tags };
    const deployment = new Deployment(this.control, this.activities.endpointWait, this.saga, this.record, plan);
    await this.record.stage('deploying', () => deployment.run());
    this.facts.deployed = { endpointName: this.spec.deployment.endpointName, endpointConfigName: endpointConfig };
    return deployment;
  }

  private async verify(deployment: Deployment): Promise<DeploymentFailure | Superseded | undefined> {
    const settled = await this.record.stage('awaiting-endpoint', () => deployment.settle());
    return this.record.stage('verifying', () => deployment.verify(settled));
  }

  /** Undoing a deployment is unwinding the saga: endpoint back (or deleted), then config and model. */
  private async rollBack(failure: DeploymentFailure): Promise<void> {
    await this.record.stage('rolling-back', async () => {
      wf.log.warn('verification failed, rolling back', { pipeline: this.spec.name, kind: failure.kind, reason: failure.reason });
      // A cancellation arriving now must not leave the endpoint half put back.
      await wf.CancellationScope.nonCancellable(() => this.saga.unwind(`rolled back: ${failure.reason}`, 'strict'));
    });
  }

  /** Records the candidate as champion, unless another run's update replaced it on the endpoint meanwhile. */
  private async promote(candidate: RegisteredCandidate, deployment: Deployment): Promise<Superseded | undefined> {
    // The endpoint now serves a verified model: nothing after this point rolls it back.
    this.saga.clear();
    return this.record.stage('promoting', async () => {
      const superseded = await deployment.stillServing(); // the champion record must name the model that serves
      if (superseded) return superseded;
      const { endpointName, keep } = this.spec.deployment;
      await this.control.markChampion({ modelPackageGroupName: this.names.modelPackageGroup, modelPackageArn: candidate.modelPackageArn, endpointName });
      try {
        const cleaned = await this.control.cleanupOldVersions({ pipeline: this.spec.name, endpointName, keep });
        wf.log.info('old versions cleaned up', { configs: cleaned.deletedConfigs, models: cleaned.deletedModels });
      } catch (err) {
        if (wf.isCancellation(err)) throw err;
        // Housekeeping: the next run cleans up again, so the deployment stands.
        this.record.warn(`old versions not cleaned up: ${describe(err)}`);
      }
      return undefined;
    });
  }

  private finish(outcome: PipelineOutcome, reason?: string): PipelineResult {
    return this.record.finish(outcome, reason, { ...this.facts, decision: this.approval.decision });
  }

  /** Undoes what this run made, then returns the error the workflow fails (or is cancelled) with. */
  private async fail(err: unknown): Promise<unknown> {
    const cancelled = wf.isCancellation(err);
    const reason = cancelled ? 'pipeline cancelled' : `pipeline failed: ${describe(err)}`;
    if (cancelled) wf.log.warn('pipeline cancelled');
    else wf.log.error('pipeline failed', { reason });
    this.record.closeOpenTiming();
    this.approval.abandon();
    if (this.saga.pending) {
      await wf.CancellationScope.nonCancellable(() => this.record.stage('compensating', () => this.saga.unwind(reason, 'lenient')));
    }
    this.record.end(cancelled ? 'cancelled' : 'failed', reason);
    return cancelled ? err : workflowFailure(err, reason);
  }
}
