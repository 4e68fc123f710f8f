// Model registry subset: package groups and versioned packages with approval.
import { validation } from '../errors';
import { key, type ApprovalStatus, type Json, type JsonObject, type PackageGroupRecord, type PackageRecord } from '../state';
import {
  arn,
  compact,
  isObject,
  listResources,
  nowSeconds,
  saveTags,
  snapshot,
  Validator,
  type ApiContext,
  type Handler,
} from './common';

const APPROVALS = ['Approved', 'Rejected', 'PendingManualApproval'] as const;
const GROUP_REF = /^(arn:aws[a-z-]*:sagemaker:[a-z0-9-]{9,16}:[0-9]{12}:[a-z-]*\/)?([a-zA-Z0-9]([a-zA-Z0-9-]){0,62})$/;
const GROUP_REF_TEXT = '(arn:aws[a-z\\-]*:sagemaker:[a-z0-9\\-]{9,16}:[0-9]{12}:[a-z\\-]*\\/)?([a-zA-Z0-9]([a-zA-Z0-9-]){0,62})(?<!-)$';

/** A group is named by name or ARN; the name is the last path segment of the ARN. */
function groupName(ref: string): string {
  const slash = ref.lastIndexOf('/');
  return ref.startsWith('arn:') && slash >= 0 ? ref.slice(slash + 1) : ref;
}

function findGroup(ctx: ApiContext, ref: string): PackageGroupRecord {
  const rec = ctx.state.data.packageGroups[key(groupName(ref))];
  if (!rec) throw validation(`ModelPackageGroup ${groupName(ref)} does not exist.`);
  return rec;
}

function findPackage(ctx: ApiContext, ref: string): PackageRecord {
  const rec = ctx.state.data.packages[ref.toLowerCase()];
  if (!rec) {
    const shown = ref.startsWith('arn:') ? ref : arn(ctx, 'model-package', ref);
    throw validation(`ModelPackage ${shown} does not exist.`);
  }
  return rec;
}

export const createModelPackageGroup: Handler = (ctx, req) => {
  const v = new Validator(req);
  const name = v.name('ModelPackageGroupName') as string;
  const description = v.str('ModelPackageGroupDescription', { max: 1024 });
  const tags = v.tags();
  v.done();
  const groupArn = arn(ctx, 'model-package-group', name);
  if (ctx.state.data.packageGroups[key(name)]) throw validation(`Model Package Group already exists: ${groupArn}`);
  ctx.state.data.packageGroups[key(name)] = {
    describe: {
      ...compact({ ModelPackageGroupDescription: description }),
      ModelPackageGroupName: name,
      ModelPackageGroupArn: groupArn,
      CreationTime: nowSeconds(),
      ModelPackageGroupStatus: 'Completed',
    },
    lastVersion: 0,
  };
  saveTags(ctx, groupArn, tags);
  ctx.state.save();
  return { ModelPackageGroupArn: groupArn };
};

export const describeModelPackageGroup: Handler = (ctx, req) => {
  const v = new Validator(req);
  const ref = v.str('ModelPackageGroupName', { required: true, pattern: GROUP_REF, patternText: GROUP_REF_TEXT }) as string;
  v.done();
  return snapshot(findGroup(ctx, ref).describe);
};

export const listModelPackageGroups: Handler = (ctx, req) => {
  const all = Object.values(ctx.state.data.packageGroups).map((g) => g.describe);
  return listResources(req, all, {
    nameOf: (d) => d.ModelPackageGroupName,
    times: (d) => [d.CreationTime],
    sortKeys: { Name: (d) => d.ModelPackageGroupName, CreationTime: (d) => d.CreationTime },
    // SageMaker's documented default: oldest first.
    defaultOrder: 'Ascending',
    field: 'ModelPackageGroupSummaryList',
    summary: (d) => ({
      ModelPackageGroupName: d.ModelPackageGroupName,
      ModelPackageGroupArn: d.ModelPackageGroupArn,
      ModelPackageGroupDescription: d.ModelPackageGroupDescription,
      CreationTime: d.CreationTime,
      ModelPackageGroupStatus: d.ModelPackageGroupStatus,
    }),
  });
};

function checkMetadata(v: Validator): Record<string, string> | undefined {
  const m = v.stringMap('CustomerMetadataProperties');
  if (m) {
    for (const k of Object.keys(m)) {
      if (k.length > 128 || k.startsWith('aws:')) v.fail(`CustomerMetadataProperties.${k}`, k, 'Member must be a key of at most 128 characters not starting with aws:');
    }
  }
  return m;
}

export const createModelPackage: Handler = (ctx, req) => {
  const v = new Validator(req);
  const groupRef = v.str('ModelPackageGroupName', { pattern: GROUP_REF, patternText: GROUP_REF_TEXT });
  if (req.ModelPackageName !== undefined) v.name('ModelPackageName', false);
  const description = v.str('ModelPackageDescription', { max: 1024 });
  const approval = v.oneOf('ModelApprovalStatus', APPROVALS) ?? 'PendingManualApproval';
  v.obj('InferenceSpecification');
  v.obj('ModelMetrics');
  v.obj('MetadataProperties');
  const metadata = checkMetadata(v);
  const clientToken = v.str('ClientToken', { max: 36 });
  const tags = v.tags();
  v.done();
  if (groupRef === undefined) {
    throw validation('ModelPackageGroupName is required by the local control plane: only versioned model packages are supported.');
  }
  const group = findGroup(ctx, groupRef);
  if (clientToken !== undefined) {
    const again = Object.values(ctx.state.data.packages).find(
      (p) => p.clientToken === clientToken && key(p.describe.ModelPackageGroupName) === key(group.describe.ModelPackageGroupName),
    );
    if (again) return { ModelPackageArn: again.describe.ModelPackageArn };
  }
  const version = group.lastVersion + 1;
  group.lastVersion = version;
  const gname = group.describe.ModelPackageGroupName;
  const packageArn = `${arn(ctx, 'model-package', gname)}/${version}`;
  const now = nowSeconds();
  const rec: PackageRecord = {
    describe: {
      ...compact({
        ModelPackageDescription: description,
        InferenceSpecification: req.InferenceSpecification,
        SourceAlgorithmSpecification: req.SourceAlgorithmSpecification,
        ValidationSpecification: req.ValidationSpecification,
        MetadataProperties: req.MetadataProperties,
        ModelMetrics: req.ModelMetrics,
        DriftCheckBaselines: req.DriftCheckBaselines,
        Domain: req.Domain,
        Task: req.Task,
        SamplePayloadUrl: req.SamplePayloadUrl,
        CustomerMetadataProperties: metadata,
        AdditionalInferenceSpecifications: req.AdditionalInferenceSpecifications,
        ModelCard: req.ModelCard,
        ApprovalDescription: undefined,
      }),
      ModelPackageName: gname,
      ModelPackageGroupName: gname,
      ModelPackageVersion: version,
      ModelPackageArn: packageArn,
      ModelApprovalStatus: approval,
      ModelPackageStatus: 'Completed',
      ModelPackageStatusDetails: { ValidationStatuses: [], ImageScanStatuses: [] },
      CertifyForMarketplace: req.CertifyForMarketplace ?? false,
      CreationTime: now,
      LastModifiedTime: now,
    },
    clientToken,
  };
  ctx.state.data.packages[packageArn.toLowerCase()] = rec;
  saveTags(ctx, packageArn, tags);
  ctx.state.save();
  return { ModelPackageArn: packageArn };
};

export const describeModelPackage: Handler = (ctx, req) => {
  const v = new Validator(req);
  const ref = v.str('ModelPackageName', { required: true, min: 1, max: 170 }) as string;
  v.done();
  return snapshot(findPackage(ctx, ref).describe);
};

export const updateModelPackage: Handler = (ctx, req) => {
  const v = new Validator(req);
  const ref = v.str('ModelPackageArn', { required: true, min: 1, max: 2048 }) as string;
  const approval = v.oneOf('ModelApprovalStatus', APPROVALS);
  const approvalDescription = v.str('ApprovalDescription', { max: 1024 });
  const metadata = checkMetadata(v);
  const toRemove = v.arr('CustomerMetadataPropertiesToRemove') ?? [];
  v.obj('InferenceSpecification');
  v.done();
  const rec = findPackage(ctx, ref);
  const d = rec.describe;
  if (approval !== undefined) d.ModelApprovalStatus = approval as ApprovalStatus;
  if (approvalDescription !== undefined) d.ApprovalDescription = approvalDescription;
  if (metadata !== undefined || toRemove.length > 0) {
    const merged: JsonObject = { ...(isObject(d.CustomerMetadataProperties) ? d.CustomerMetadataProperties : {}), ...(metadata ?? {}) };
    for (const k of toRemove) if (typeof k === 'string') delete merged[k];
    d.CustomerMetadataProperties = merged;
  }
  for (const f of ['InferenceSpecification', 'ModelCard', 'SourceUri'] as const) {
    const val: Json | undefined = req[f];
    if (val !== undefined) d[f] = val;
  }
  d.LastModifiedTime = nowSeconds();
  ctx.state.save();
  return { ModelPackageArn: d.ModelPackageArn };
};

export const listModelPackages: Handler = (ctx, req) => {
  const all = Object.values(ctx.state.data.packages).map((p) => p.describe);
  return listResources(req, all, {
    nameOf: (d) => d.ModelPackageName,
    times: (d) => [d.CreationTime],
    // Ties in time (packages made in the same millisecond) fall back to the version.
    sortKeys: {
      Name: (d) => `${d.ModelPackageName}/${String(d.ModelPackageVersion).padStart(9, '0')}`,
      CreationTime: (d) => d.CreationTime * 1e6 + d.ModelPackageVersion,
    },
    defaultOrder: 'Ascending',
    filters: (v) => {
      const approval = v.oneOf('ModelApprovalStatus', APPROVALS);
      const groupRef = v.str('ModelPackageGroupName', { pattern: GROUP_REF, patternText: GROUP_REF_TEXT });
      const given = v.oneOf('ModelPackageType', ['Versioned', 'Unversioned', 'Both'] as const);
      const group = groupRef === undefined ? undefined : key(groupName(groupRef));
      // SageMaker lists unversioned packages unless told otherwise; a group holds versioned ones only, so naming one lists those.
      const type = group !== undefined ? 'Versioned' : (given ?? 'Unversioned');
      return {
        // Every package here is versioned.
        keep: (d) =>
          type !== 'Unversioned' &&
          (group === undefined || key(d.ModelPackageGroupName) === group) &&
          (!approval || d.ModelApprovalStatus === approval),
        bound: [approval, group, type],
      };
    },
    field: 'ModelPackageSummaryList',
    summary: (d) => ({
      ModelPackageName: d.ModelPackageName,
      ModelPackageGroupName: d.ModelPackageGroupName,
      ModelPackageVersion: d.ModelPackageVersion,
      ModelPackageArn: d.ModelPackageArn,
      ModelPackageDescription: d.ModelPackageDescription,
      CreationTime: d.CreationTime,
      ModelPackageStatus: d.ModelPackageStatus,
      ModelApprovalStatus: d.ModelApprovalStatus,
    }),
  });
};

