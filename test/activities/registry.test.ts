import {
  CreateModelPackageCommand,
  CreateModelPackageGroupCommand,
  DescribeModelPackageCommand,
  DescribeModelPackageGroupCommand,
  ListModelPackagesCommand,
  UpdateModelPackageCommand,
} from '@aws-sdk/client-sagemaker';
import { createActivities } from '../../src/activities';
import { registrationToken } from '../../src/activities/registry';
import type { RegisterCandidateInput } from '../../src/activities/types';
import { activityRunner, awsError, mockedClients } from './helpers';

const arn = (v: number) => `arn:aws:sagemaker:us-east-1:123456789012:model-package/claims/${v}`;
const candidate = (): RegisterCandidateInput => ({
  modelPackageGroupName: 'claims',
  imageUri: 'img:1',
  modelArtifact: 's3://b/model.tar.gz',
  metrics: [{ name: 'validation:deviance', value: 0.42 }],
  trainingJobName: 'claims-abc-train',
  dataUri: 's3://b/train/',
  dataFingerprint: 'f'.repeat(64),
  workflowId: 'claims-2025-01-01',
});

describe('registerCandidate', () => {
  it('creates the group when missing, then the package with metadata and a stable ClientToken', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeModelPackageGroupCommand).rejects(awsError('ValidationException', 400, 'Model Package Group claims does not exist.'));
    sageMakerMock.on(CreateModelPackageGroupCommand).resolves({ ModelPackageGroupArn: 'g' });
    sageMakerMock.on(ListModelPackagesCommand).resolves({ ModelPackageSummaryList: [] });
    sageMakerMock.on(CreateModelPackageCommand).resolves({ ModelPackageArn: arn(3) });
    const r = await activityRunner().run(createActivities({ clients }).registerCandidate, candidate());
    expect(r).toEqual({ modelPackageArn: arn(3), version: 3, created: true });
    const req = sageMakerMock.commandCalls(CreateModelPackageCommand)[0]!.args[0].input;
    expect(req.ModelApprovalStatus).toBe('PendingManualApproval');
    expect(req.InferenceSpecification?.Containers).toEqual([{ Image: 'img:1', ModelDataUrl: 's3://b/model.tar.gz' }]);
    expect(req.CustomerMetadataProperties).toMatchObject({
      'metric:validation:deviance': '0.42',
      'champ:trainingJob': 'claims-abc-train',
      'champ:dataFingerprint': 'f'.repeat(64),
      'champ:workflowId': 'claims-2025-01-01',
    });
    expect(req.ClientToken).toBe(registrationToken('claims-2025-01-01', 'claims-abc-train'));
    expect(req.ClientToken).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('finds the package a lost response already registered instead of creating another', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(DescribeModelPackageGroupCommand).resolves({ ModelPackageGroupName: 'claims' });
    sageMakerMock.on(ListModelPackagesCommand).resolves({
      ModelPackageSummaryList: [
        { ModelPackageArn: arn(5), CreationTime: new Date(5), ModelPackageStatus: 'Completed', ModelPackageDescription: 'training job claims-other-train' },
        { ModelPackageArn: arn(4), CreationTime: new Date(4), ModelPackageStatus: 'Completed', ModelPackageDescription: 'training job claims-abc-train' },
      ],
    });
    sageMakerMock.on(DescribeModelPackageCommand, { ModelPackageName: arn(4) }).resolves({
      ModelPackageArn: arn(4),
      ModelPackageVersion: 4,
      CustomerMetadataProperties: { 'champ:trainingJob': 'claims-abc-train' },
    } as never);
    const r = await activityRunner().run(createActivities({ clients }).registerCandidate, candidate());
    expect(r).toEqual({ modelPackageArn: arn(4), version: 4, created: false });
    expect(sageMakerMock.commandCalls(CreateModelPackageCommand)).toHaveLength(0);
    expect(sageMakerMock.commandCalls(DescribeModelPackageCommand).map((c) => c.args[0].input.ModelPackageName)).toEqual([arn(4)]);
  });
});

describe('describeChampion and markChampion', () => {
  const pkgs = {
    [arn(1)]: { ModelPackageArn: arn(1), ModelPackageVersion: 1, CustomerMetadataProperties: { 'champ:champion': 'true', 'metric:rmse': '2.5', 'champ:dataFingerprint': 'abc' } },
    [arn(2)]: { ModelPackageArn: arn(2), ModelPackageVersion: 2, CustomerMetadataProperties: { 'metric:rmse': '2.1' } },
  };
  function registry() {
    const m = mockedClients();
    m.sageMakerMock.on(ListModelPackagesCommand).resolves({
      ModelPackageSummaryList: [
        { ModelPackageArn: arn(2), CreationTime: new Date(2), ModelPackageStatus: 'Completed' },
        { ModelPackageArn: arn(1), CreationTime: new Date(1), ModelPackageStatus: 'Completed' },
      ],
    });
    m.sageMakerMock.on(DescribeModelPackageCommand).callsFake((input: { ModelPackageName: string }) => pkgs[input.ModelPackageName]);
    m.sageMakerMock.on(UpdateModelPackageCommand).resolves({});
    return m;
  }

  it('returns the package marked champion, with metrics and fingerprint, over a newer approved one', async () => {
    const { clients, sageMakerMock } = registry();
    const c = await activityRunner().run(createActivities({ clients }).describeChampion, { modelPackageGroupName: 'claims' });
    expect(c).toEqual({ modelPackageArn: arn(1), version: 1, metrics: [{ name: 'rmse', value: 2.5 }], dataFingerprint: 'abc' });
    expect(sageMakerMock.commandCalls(ListModelPackagesCommand)[0]!.args[0].input).toMatchObject({ ModelApprovalStatus: 'Approved', SortOrder: 'Descending' });
  });

  it('reads every page of the list, asking for the largest page size', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock
      .on(ListModelPackagesCommand)
      .resolvesOnce({ ModelPackageSummaryList: [{ ModelPackageArn: arn(2), CreationTime: new Date(2), ModelPackageStatus: 'Completed' }], NextToken: 'p2' })
      .resolvesOnce({ ModelPackageSummaryList: [{ ModelPackageArn: arn(1), CreationTime: new Date(1), ModelPackageStatus: 'Completed' }] });
    sageMakerMock.on(DescribeModelPackageCommand).callsFake((input: { ModelPackageName: string }) => pkgs[input.ModelPackageName]);
    const c = await activityRunner().run(createActivities({ clients }).describeChampion, { modelPackageGroupName: 'claims' });
    expect(c?.modelPackageArn).toBe(arn(1));
    const calls = sageMakerMock.commandCalls(ListModelPackagesCommand);
    expect(calls).toHaveLength(2);
    expect(calls.every((call) => call.args[0].input.MaxResults === 100)).toBe(true);
  });

  it('returns null for a group that does not exist', async () => {
    const { clients, sageMakerMock } = mockedClients();
    sageMakerMock.on(ListModelPackagesCommand).rejects(awsError('ResourceNotFound', 400, 'group not found'));
    expect(await activityRunner().run(createActivities({ clients }).describeChampion, { modelPackageGroupName: 'claims' })).toBeNull();
  });

  it('marks the new champion first, then removes the mark from the previous one', async () => {
    const { clients, sageMakerMock } = registry();
    await activityRunner().run(createActivities({ clients }).markChampion, { modelPackageGroupName: 'claims', modelPackageArn: arn(2), endpointName: 'claims' });
    const updates = sageMakerMock.commandCalls(UpdateModelPackageCommand).map((c) => c.args[0].input);
    expect(updates).toEqual([
      { ModelPackageArn: arn(2), CustomerMetadataProperties: { 'champ:champion': 'true', 'champ:endpoint': 'claims' } },
      { ModelPackageArn: arn(1), CustomerMetadataPropertiesToRemove: ['champ:champion'] },
    ]);
  });

  it('records approval as "<reviewer>: <reason>"', async () => {
    const { clients, sageMakerMock } = registry();
    await activityRunner().run(createActivities({ clients }).setApproval, { modelPackageArn: arn(2), status: 'Approved', reviewer: 'ana', reason: 'looks good' });
    expect(sageMakerMock.commandCalls(UpdateModelPackageCommand)[0]!.args[0].input).toEqual({
      ModelPackageArn: arn(2),
      ModelApprovalStatus: 'Approved',
      ApprovalDescription: 'ana: looks good',
    });
  });
});
