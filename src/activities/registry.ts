// The model registry: candidates as model packages, the champion marked in
// their customer metadata (`champ:champion` = `true`), metrics as `metric:<name>`.
import {
  CreateModelPackageCommand,
  CreateModelPackageGroupCommand,
  DescribeModelPackageCommand,
  DescribeModelPackageGroupCommand,
  paginateListModelPackages,
  UpdateModelPackageCommand,
  type DescribeModelPackageOutput,
  type ModelApprovalStatus,
  type ModelPackageSummary,
  type UpdateModelPackageInput,
} from '@aws-sdk/client-sagemaker';
import { createHash } from 'node:crypto';
import { awsCall, awsCallOr, createIfAbsent, describeIfPresent, isNotFoundError } from '../aws/errors';
import { collectPages, PAGE_SIZE } from '../aws/requests';
import { activityEnv } from './context';
import type { ActivityDeps } from './deps';
import type {
  ChampionInfo,
  ChampionInput,
  MarkChampionInput,
  MetricValue,
  RegisterCandidateInput,
  RegisteredCandidate,
  SetApprovalInput,
} from './types';

export const META = {
  champion: 'champ:champion',
  trainingJob: 'champ:trainingJob',
  dataUri: 'champ:dataUri',
  dataFingerprint: 'champ:dataFingerprint',
  workflowId: 'champ:workflowId',
  endpoint: 'champ:endpoint',
  metricPrefix: 'metric:',
} as const;

/** The content types a candidate declares; the spec does not carry them yet. */
export const DEFAULT_CONTENT_TYPES = ['application/json', 'text/csv'];

const MAX_META_VALUE = 256;

/** ClientToken for CreateModelPackage: 36 characters, stable for one workflow and training job. */
export function registrationToken(workflowId: string, trainingJobName: string): string {
  const h = createHash('sha256').update(`${workflowId}\0${trainingJobName}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function metricsToMetadata(metrics: MetricValue[]): Record<string, string> {
  return Object.fromEntries(metrics.map((m) => [`${META.metricPrefix}${m.name}`, String(m.value)]));
}

export function metricsFromMetadata(meta: Record<string, string> | undefined): MetricValue[] {
  const out: MetricValue[] = [];
  for (const [k, v] of Object.entries(meta ?? {})) {
    if (!k.startsWith(META.metricPrefix)) continue;
    const value = Number(v);
    if (v.trim() !== '' && Number.isFinite(value)) out.push({ name: k.slice(META.metricPrefix.length), value });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function versionFromArn(arn: string): number | undefined {
  const m = /\/(\d+)$/.exec(arn);
  return m ? Number(m[1]) : undefined;
}

function clip(text: string): string {
  return text.length > MAX_META_VALUE ? text.slice(0, MAX_META_VALUE) : text;
}

export function createRegistryActivities(deps: ActivityDeps) {
  const sm = deps.clients.sagemaker;

  /** The group's versioned packages, newest first; null when there is no such group. */
  async function listPackages(group: string, status?: ModelApprovalStatus): Promise<ModelPackageSummary[] | null> {
    const all = await awsCallOr(
      { operation: 'ListModelPackages', resource: `model package group ${group}` },
      () =>
        collectPages(
          paginateListModelPackages(
            { client: sm, pageSize: PAGE_SIZE },
            {
              ModelPackageGroupName: group,
              ModelPackageType: 'Versioned',
              ...(status ? { ModelApprovalStatus: status } : {}),
              SortBy: 'CreationTime',
              SortOrder: 'Descending',
            },
          ),
          (page) => page.ModelPackageSummaryList,
        ),
      isNotFoundError,
      null,
    );
    // Newest first, whatever order the service used.
    return all && all.sort((a, b) => (b.CreationTime?.getTime() ?? 0) - (a.CreationTime?.getTime() ?? 0) || (b.ModelPackageVersion ?? 0) - (a.ModelPackageVersion ?? 0));
  }

  function updatePackage(input: UpdateModelPackageInput & { ModelPackageArn: string }): Promise<unknown> {
    return awsCall({ operation: 'UpdateModelPackage', resource: `model package ${input.ModelPackageArn}` }, () => sm.send(new UpdateModelPackageCommand(input)));
  }

  async function describePackage(arn: string): Promise<DescribeModelPackageOutput> {
    return awsCall({ operation: 'DescribeModelPackage', resource: `model package ${arn}` }, () =>
      sm.send(new DescribeModelPackageCommand({ ModelPackageName: arn })),
    );
  }

  /** Approved packages marked champion, newest first. */
  async function markedChampions(group: string): Promise<DescribeModelPackageOutput[]> {
    const approved = (await listPackages(group, 'Approved')) ?? [];
    const marked: DescribeModelPackageOutput[] = [];
    for (const s of approved) {
      if (!s.ModelPackageArn) continue;
      const d = await describePackage(s.ModelPackageArn);
      if (d.CustomerMetadataProperties?.[META.champion] === 'true') marked.push(d);
    }
    return marked;
  }

  function championInfo(d: DescribeModelPackageOutput): ChampionInfo {
    const arn = d.ModelPackageArn ?? '';
    const fingerprint = d.CustomerMetadataProperties?.[META.dataFingerprint];
    return {
      modelPackageArn: arn,
      version: d.ModelPackageVersion ?? versionFromArn(arn) ?? 0,
      metrics: metricsFromMetadata(d.CustomerMetadataProperties),
      ...(fingerprint ? { dataFingerprint: fingerprint } : {}),
    };
  }

  async function describeChampion(input: ChampionInput): Promise<ChampionInfo | null> {
    const env = activityEnv(deps.log);
    const approved = await listPackages(input.modelPackageGroupName, 'Approved');
    if (!approved || approved.length === 0) {
      env.log.info('no champion yet', { group: input.modelPackageGroupName });
      return null;
    }
    let newest: DescribeModelPackageOutput | undefined;
    for (const s of approved) {
      if (!s.ModelPackageArn) continue;
      const d = await describePackage(s.ModelPackageArn);
      newest ??= d;
      if (d.CustomerMetadataProperties?.[META.champion] === 'true') return championInfo(d);
    }
    return newest ? championInfo(newest) : null;
  }

  async function ensureGroup(group: string, description?: string): Promise<void> {
    const resource = `model package group ${group}`;
    const found = await describeIfPresent({ operation: 'DescribeModelPackageGroup', resource }, () =>
      sm.send(new DescribeModelPackageGroupCommand({ ModelPackageGroupName: group })).then(() => true),
    );
    if (found) return;
    await createIfAbsent({ operation: 'CreateModelPackageGroup', resource }, () =>
      sm.send(
        new CreateModelPackageGroupCommand({
          ModelPackageGroupName: group,
          ModelPackageGroupDescription: clip(description ?? `champ pipeline ${group}`),
        }),
      ),
    );
  }

  /** The package a previous attempt already registered for this training job, if any. */
  async function findRegistered(group: string, trainingJobName: string): Promise<RegisteredCandidate | undefined> {
    const all = (await listPackages(group)) ?? [];
    // The description names the job, so only likely matches are described.
    const likely = all.filter((s) => s.ModelPackageDescription === undefined || s.ModelPackageDescription.includes(trainingJobName));
    for (const s of likely) {
      if (!s.ModelPackageArn) continue;
      const d = await describePackage(s.ModelPackageArn);
      if (d.CustomerMetadataProperties?.[META.trainingJob] === trainingJobName) {
        return { modelPackageArn: s.ModelPackageArn, version: d.ModelPackageVersion ?? versionFromArn(s.ModelPackageArn) ?? 0, created: false };
      }
    }
    return undefined;
  }

  async function registerCandidate(input: RegisterCandidateInput): Promise<RegisteredCandidate> {
    const env = activityEnv(deps.log);
    const group = input.modelPackageGroupName;
    await ensureGroup(group, input.pipelineDescription);
    const existing = await findRegistered(group, input.trainingJobName);
    if (existing) {
      env.log.info('candidate already registered; continuing with it', { modelPackageArn: existing.modelPackageArn });
      return existing;
    }
    const description = clip(`${input.pipelineDescription ? `${input.pipelineDescription} - ` : ''}training job ${input.trainingJobName}`);
    const out = await awsCall({ operation: 'CreateModelPackage', resource: `model package group ${group}` }, () =>
      sm.send(
        new CreateModelPackageCommand({
          ModelPackageGroupName: group,
          ModelPackageDescription: description,
          ModelApprovalStatus: 'PendingManualApproval',
          InferenceSpecification: {
            Containers: [{ Image: input.imageUri, ModelDataUrl: input.modelArtifact }],
            SupportedContentTypes: DEFAULT_CONTENT_TYPES,
            SupportedResponseMIMETypes: DEFAULT_CONTENT_TYPES,
          },
          CustomerMetadataProperties: {
            ...metricsToMetadata(input.metrics),
            [META.trainingJob]: input.trainingJobName,
            [META.dataUri]: clip(input.dataUri),
            [META.dataFingerprint]: input.dataFingerprint,
            [META.workflowId]: clip(input.workflowId),
          },
          ClientToken: registrationToken(input.workflowId, input.trainingJobName),
        }),
      ),
    );
    const arn = out.ModelPackageArn ?? '';
    const version = versionFromArn(arn) ?? (await describePackage(arn)).ModelPackageVersion ?? 0;
    env.log.info('candidate registered', { modelPackageArn: arn, version });
    return { modelPackageArn: arn, version, created: true };
  }

  async function setApproval(input: SetApprovalInput): Promise<void> {
    const env = activityEnv(deps.log);
    await updatePackage({
      ModelPackageArn: input.modelPackageArn,
      ModelApprovalStatus: input.status,
      ApprovalDescription: `${input.reviewer}: ${input.reason}`.slice(0, 1024),
    });
    env.log.info('approval recorded', { modelPackageArn: input.modelPackageArn, status: input.status, reviewer: input.reviewer });
  }

  async function markChampion(input: MarkChampionInput): Promise<void> {
    const env = activityEnv(deps.log);
    // Mark the new champion first: if the worker dies between the two steps,
    // describeChampion still picks the newest marked package, which is this one.
    await updatePackage({
      ModelPackageArn: input.modelPackageArn,
      CustomerMetadataProperties: { [META.champion]: 'true', [META.endpoint]: input.endpointName },
    });
    for (const previous of await markedChampions(input.modelPackageGroupName)) {
      const arn = previous.ModelPackageArn;
      if (!arn || arn === input.modelPackageArn) continue;
      await updatePackage({ ModelPackageArn: arn, CustomerMetadataPropertiesToRemove: [META.champion] });
      env.log.info('previous champion unmarked', { modelPackageArn: arn });
    }
    env.log.info('champion recorded', { modelPackageArn: input.modelPackageArn, endpointName: input.endpointName });
  }

  return { describeChampion, registerCandidate, setApproval, markChampion };
}
