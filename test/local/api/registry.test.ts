import {
  CreateModelPackageCommand,
  CreateModelPackageGroupCommand,
  DescribeModelPackageCommand,
  DescribeModelPackageGroupCommand,
  ListModelPackageGroupsCommand,
  ListModelPackagesCommand,
  ListTagsCommand,
  AddTagsCommand,
  UpdateModelPackageCommand,
} from '@aws-sdk/client-sagemaker';
import { rejectionOf, useHarness } from './fake-runtime';

const h = useHarness({ resetEach: true });

const pkg = (group: string, rmse: string) =>
  new CreateModelPackageCommand({
    ModelPackageGroupName: group,
    ModelPackageDescription: `candidate rmse ${rmse}`,
    InferenceSpecification: {
      Containers: [{ Image: 'local/claims:abc', ModelDataUrl: 'file:///tmp/model.tar.gz' }],
      SupportedContentTypes: ['text/csv'],
      SupportedResponseMIMETypes: ['application/json'],
    },
    ModelMetrics: { ModelQuality: { Statistics: { ContentType: 'application/json', S3Uri: 'file:///tmp/metrics.json' } } },
    CustomerMetadataProperties: { rmse },
    MetadataProperties: { CommitId: 'abc123' },
  });

test('packages get versions 1, 2, 3 in their group and start PendingManualApproval', async () => {
  const group = await h.sm.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: 'claims', ModelPackageGroupDescription: 'claims models' }));
  expect(group.ModelPackageGroupArn).toBe('arn:aws:sagemaker:us-east-1:000000000000:model-package-group/claims');
  const arns: string[] = [];
  for (const r of ['0.5', '0.4', '0.3']) arns.push((await h.sm.send(pkg('claims', r))).ModelPackageArn!);
  expect(arns).toEqual([1, 2, 3].map((v) => `arn:aws:sagemaker:us-east-1:000000000000:model-package/claims/${v}`));
  const d = await h.sm.send(new DescribeModelPackageCommand({ ModelPackageName: arns[1] }));
  expect(d).toMatchObject({
    ModelPackageGroupName: 'claims',
    ModelPackageVersion: 2,
    ModelApprovalStatus: 'PendingManualApproval',
    ModelPackageStatus: 'Completed',
    CustomerMetadataProperties: { rmse: '0.4' },
    MetadataProperties: { CommitId: 'abc123' },
    ModelPackageDescription: 'candidate rmse 0.4',
  });
  expect(d.CreationTime).toBeInstanceOf(Date);
  expect(d.InferenceSpecification?.Containers?.[0]?.Image).toBe('local/claims:abc');
  expect(d.ModelMetrics?.ModelQuality?.Statistics?.S3Uri).toBe('file:///tmp/metrics.json');
  const g = await h.sm.send(new DescribeModelPackageGroupCommand({ ModelPackageGroupName: 'claims' }));
  expect(g).toMatchObject({ ModelPackageGroupName: 'claims', ModelPackageGroupDescription: 'claims models', ModelPackageGroupStatus: 'Completed' });
});

test('UpdateModelPackage sets approval, its description and customer metadata; ListModelPackages filters by approval', async () => {
  await h.sm.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: 'appr' }));
  const a1 = (await h.sm.send(pkg('appr', '0.5'))).ModelPackageArn!;
  const a2 = (await h.sm.send(pkg('appr', '0.4'))).ModelPackageArn!;
  await h.sm.send(
    new UpdateModelPackageCommand({
      ModelPackageArn: a2,
      ModelApprovalStatus: 'Approved',
      ApprovalDescription: 'approved by alice',
      CustomerMetadataProperties: { reviewer: 'alice' },
      CustomerMetadataPropertiesToRemove: ['rmse'],
    }),
  );
  await h.sm.send(new UpdateModelPackageCommand({ ModelPackageArn: a1, ModelApprovalStatus: 'Rejected' }));
  const d = await h.sm.send(new DescribeModelPackageCommand({ ModelPackageName: a2 }));
  expect(d).toMatchObject({ ModelApprovalStatus: 'Approved', ApprovalDescription: 'approved by alice', CustomerMetadataProperties: { reviewer: 'alice' } });
  expect(d.LastModifiedTime).toBeInstanceOf(Date);

  const approved = await h.sm.send(new ListModelPackagesCommand({ ModelPackageGroupName: 'appr', ModelApprovalStatus: 'Approved' }));
  expect(approved.ModelPackageSummaryList?.map((s) => s.ModelPackageArn)).toEqual([a2]);
});

test('ListModelPackages sorts by CreationTime both ways and paginates; another group\'s packages stay out', async () => {
  await h.sm.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: 'pages' }));
  await h.sm.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: 'other' }));
  for (let i = 0; i < 5; i++) await h.sm.send(pkg('pages', String(i)));
  await h.sm.send(pkg('other', '9'));
  const versions: number[] = [];
  let token: string | undefined;
  do {
    const page = await h.sm.send(
      new ListModelPackagesCommand({ ModelPackageGroupName: 'arn:aws:sagemaker:us-east-1:000000000000:model-package-group/pages', SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: 2, NextToken: token }),
    );
    versions.push(...(page.ModelPackageSummaryList ?? []).map((s) => s.ModelPackageVersion!));
    token = page.NextToken;
  } while (token);
  expect(versions).toEqual([5, 4, 3, 2, 1]);
  const asc = await h.sm.send(new ListModelPackagesCommand({ ModelPackageGroupName: 'pages', SortOrder: 'Ascending', MaxResults: 3 }));
  expect(asc.ModelPackageSummaryList?.map((s) => s.ModelPackageVersion)).toEqual([1, 2, 3]);
  const groups = await h.sm.send(new ListModelPackageGroupsCommand({ NameContains: 'pag' }));
  expect(groups.ModelPackageGroupSummaryList?.map((g) => g.ModelPackageGroupName)).toEqual(['pages']);
});

test('a missing package or group is a ValidationException; a duplicate group too', async () => {
  const missing = await rejectionOf(h.smOnce.send(new DescribeModelPackageCommand({ ModelPackageName: 'arn:aws:sagemaker:us-east-1:000000000000:model-package/none/1' })));
  expect([missing.name, missing.message]).toEqual(['ValidationException', 'ModelPackage arn:aws:sagemaker:us-east-1:000000000000:model-package/none/1 does not exist.']);
  const noGroup = await rejectionOf(h.smOnce.send(pkg('nogroup', '1')));
  expect([noGroup.name, noGroup.message]).toEqual(['ValidationException', 'ModelPackageGroup nogroup does not exist.']);
  await h.sm.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: 'twice' }));
  const dup = await rejectionOf(h.smOnce.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: 'twice' })));
  expect(dup.name).toBe('ValidationException');
  const badApproval = await rejectionOf(
    h.smOnce.send(new UpdateModelPackageCommand({ ModelPackageArn: 'arn:x', ModelApprovalStatus: 'Maybe' as 'Approved' })),
  );
  expect(badApproval.message).toBe(
    "1 validation error detected: Value 'Maybe' at 'modelApprovalStatus' failed to satisfy constraint: Member must satisfy enum value set: [Approved, Rejected, PendingManualApproval]",
  );
});

test('tags given at creation and by AddTags come back from ListTags', async () => {
  const { ModelPackageGroupArn } = await h.sm.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: 'tagged', Tags: [{ Key: 'team', Value: 'claims' }] }));
  await h.sm.send(new AddTagsCommand({ ResourceArn: ModelPackageGroupArn, Tags: [{ Key: 'stage', Value: 'dev' }, { Key: 'team', Value: 'pricing' }] }));
  const tags = await h.sm.send(new ListTagsCommand({ ResourceArn: ModelPackageGroupArn }));
  expect(tags.Tags).toEqual([
    { Key: 'team', Value: 'pricing' },
    { Key: 'stage', Value: 'dev' },
  ]);
});
