import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  ListEndpointsCommand,
  UpdateEndpointCommand,
  type DescribeEndpointCommandOutput,
} from '@aws-sdk/client-sagemaker';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { injectFault } from '../../../src/local/admin-client';
import { rejectionOf, useHarness } from './fake-runtime';
import { until } from '../support';

const h = useHarness({ resetEach: true });
beforeEach(() => {
  h.endpoints.unhealthyImages.clear();
});

async function modelAndConfig(suffix: string, image = `local/model:${suffix}`): Promise<string> {
  await h.sm.send(
    new CreateModelCommand({
      ModelName: `model-${suffix}`,
      PrimaryContainer: { Image: image, ModelDataUrl: `file:///tmp/${suffix}/model.tar.gz`, Environment: { MODE: suffix } },
      ExecutionRoleArn: 'arn:aws:iam::000000000000:role/champ-local',
    }),
  );
  await h.sm.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: `config-${suffix}`,
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: `model-${suffix}`, InitialInstanceCount: 1, InstanceType: 'ml.m5.large' }],
    }),
  );
  return `config-${suffix}`;
}

const describeEp = (name: string) => h.sm.send(new DescribeEndpointCommand({ EndpointName: name }));

async function waitStatus(name: string, status: string): Promise<DescribeEndpointCommandOutput> {
  return until(`${name} ${status}`, async () => {
    const d = await describeEp(name);
    return d.EndpointStatus === status ? d : undefined;
  });
}

test('an endpoint goes Creating -> InService and DescribeEndpoint shows its variants and deployed images', async () => {
  await modelAndConfig('v1');
  const release = h.endpoints.holdDeploys();
  const created = await h.sm.send(new CreateEndpointCommand({ EndpointName: 'ep', EndpointConfigName: 'config-v1' }));
  expect(created.EndpointArn).toBe('arn:aws:sagemaker:us-east-1:000000000000:endpoint/ep');
  expect((await describeEp('ep')).EndpointStatus).toBe('Creating');
  release();
  const d = await waitStatus('ep', 'InService');
  expect(d.EndpointConfigName).toBe('config-v1');
  expect(d.FailureReason).toBeUndefined();
  expect(d.CreationTime).toBeInstanceOf(Date);
  expect(d.ProductionVariants).toEqual([
    {
      VariantName: 'AllTraffic',
      DeployedImages: [{ SpecifiedImage: 'local/model:v1', ResolvedImage: 'local/model:v1', ResolutionTime: expect.any(Date) }],
      CurrentWeight: 1,
      DesiredWeight: 1,
      CurrentInstanceCount: 1,
      DesiredInstanceCount: 1,
    },
  ]);
  const spec = h.endpoints.serving.get('ep')?.variants[0];
  expect(spec).toMatchObject({ imageUri: 'local/model:v1', modelDataUrl: 'file:///tmp/v1/model.tar.gz', environment: { MODE: 'v1' } });
});

test('InvokeEndpoint reaches the variant with Content-Type and Accept, and names the invoked variant', async () => {
  await modelAndConfig('inv');
  await h.sm.send(new CreateEndpointCommand({ EndpointName: 'ep-inv', EndpointConfigName: 'config-inv' }));
  await waitStatus('ep-inv', 'InService');
  const out = await h.rt.send(
    new InvokeEndpointCommand({ EndpointName: 'ep-inv', Body: Buffer.from('1,2,3'), ContentType: 'text/csv', Accept: 'application/json', TargetVariant: 'AllTraffic' }),
  );
  expect(out.InvokedProductionVariant).toBe('AllTraffic');
  expect(out.ContentType).toBe('application/json');
  expect(JSON.parse(Buffer.from(out.Body).toString('utf8'))).toEqual({ config: 'config-inv', variant: 'AllTraffic', input: '1,2,3', accept: 'application/json' });
});

test('a container 4xx is a ModelError with OriginalStatusCode and OriginalMessage; a missing endpoint is ValidationError', async () => {
  await modelAndConfig('err');
  await h.sm.send(new CreateEndpointCommand({ EndpointName: 'ep-err', EndpointConfigName: 'config-err' }));
  await waitStatus('ep-err', 'InService');
  const err = await rejectionOf(h.rt.send(new InvokeEndpointCommand({ EndpointName: 'ep-err', Body: Buffer.from('fail'), ContentType: 'text/csv' })));
  expect(err.name).toBe('ModelError');
  expect(err.OriginalStatusCode).toBe(400);
  expect(err.OriginalMessage).toBe('unsupported input');
  expect(err.message).toMatch(/^Received client error \(400\) from primary with message "unsupported input"/);
  expect(err.$metadata?.httpStatusCode).toBe(424);

  const missing = await rejectionOf(h.rt.send(new InvokeEndpointCommand({ EndpointName: 'nope', Body: Buffer.from('x') })));
  expect(missing.name).toBe('ValidationError');
  expect(missing.message).toBe('Endpoint nope of account 000000000000 not found.');
});

test('UpdateEndpoint moves to the new config: Updating -> InService on config-v2', async () => {
  await modelAndConfig('u1');
  await modelAndConfig('u2');
  await h.sm.send(new CreateEndpointCommand({ EndpointName: 'ep-up', EndpointConfigName: 'config-u1' }));
  await waitStatus('ep-up', 'InService');
  // Held until released, not for a time: a loaded machine must still see Updating.
  const release = h.endpoints.holdDeploys();
  await h.sm.send(new UpdateEndpointCommand({ EndpointName: 'ep-up', EndpointConfigName: 'config-u2' }));
  const updating = await describeEp('ep-up');
  expect(updating.EndpointStatus).toBe('Updating');
  expect(updating.PendingDeploymentSummary?.EndpointConfigName).toBe('config-u2');
  release();
  const d = await waitStatus('ep-up', 'InService');
  expect(d.EndpointConfigName).toBe('config-u2');
  expect(d.ProductionVariants?.[0]?.DeployedImages?.[0]?.SpecifiedImage).toBe('local/model:u2');
  expect(d.PendingDeploymentSummary).toBeUndefined();
});

test('an update whose variant never gets healthy leaves the endpoint InService on the old config with FailureReason', async () => {
  await modelAndConfig('good');
  await modelAndConfig('broken', 'local/broken:1');
  h.endpoints.unhealthyImages.add('local/broken:1');
  await h.sm.send(new CreateEndpointCommand({ EndpointName: 'ep-rb', EndpointConfigName: 'config-good' }));
  await waitStatus('ep-rb', 'InService');
  await h.sm.send(new UpdateEndpointCommand({ EndpointName: 'ep-rb', EndpointConfigName: 'config-broken' }));
  const d = await until('update settled', async () => {
    const x = await describeEp('ep-rb');
    return x.EndpointStatus === 'InService' && x.FailureReason ? x : undefined;
  });
  expect(d.EndpointConfigName).toBe('config-good');
  expect(d.FailureReason).toBe('The primary container for production variant AllTraffic did not pass the ping health check.');
  expect(d.ProductionVariants?.[0]?.DeployedImages?.[0]?.SpecifiedImage).toBe('local/model:good');
});

test('a create whose variant never gets healthy ends Failed with the reason', async () => {
  await modelAndConfig('never', 'local/never:1');
  h.endpoints.unhealthyImages.add('local/never:1');
  await h.sm.send(new CreateEndpointCommand({ EndpointName: 'ep-fail', EndpointConfigName: 'config-never' }));
  const d = await waitStatus('ep-fail', 'Failed');
  expect(d.FailureReason).toContain('did not pass the ping health check');
});

test('UpdateEndpoint while Creating is a ValidationException "Cannot update in-progress endpoint"', async () => {
  await modelAndConfig('c1');
  const release = h.endpoints.holdDeploys();
  await h.sm.send(new CreateEndpointCommand({ EndpointName: 'ep-busy', EndpointConfigName: 'config-c1' }));
  const err = await rejectionOf(h.smOnce.send(new UpdateEndpointCommand({ EndpointName: 'ep-busy', EndpointConfigName: 'config-c1' })));
  release();
  expect(err.name).toBe('ValidationException');
  expect(err.message).toBe('Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:000000000000:endpoint/ep-busy".');
});

test('missing models, configs and endpoints answer ValidationException with SageMaker\'s "Could not find" messages', async () => {
  const cases: Array<[Promise<unknown>, string]> = [
    [h.smOnce.send(new DescribeEndpointCommand({ EndpointName: 'gone' })), 'Could not find endpoint "arn:aws:sagemaker:us-east-1:000000000000:endpoint/gone".'],
    [h.smOnce.send(new DescribeModelCommand({ ModelName: 'Gone' })), 'Could not find model "arn:aws:sagemaker:us-east-1:000000000000:model/gone".'],
    [
      h.smOnce.send(new DescribeEndpointConfigCommand({ EndpointConfigName: 'gone' })),
      'Could not find endpoint configuration "arn:aws:sagemaker:us-east-1:000000000000:endpoint-config/gone".',
    ],
    [
      h.smOnce.send(new CreateEndpointCommand({ EndpointName: 'x', EndpointConfigName: 'gone' })),
      'Could not find endpoint configuration "arn:aws:sagemaker:us-east-1:000000000000:endpoint-config/gone".',
    ],
  ];
  for (const [call, message] of cases) {
    const err = await rejectionOf(call);
    expect([err.name, err.message]).toEqual(['ValidationException', message]);
  }
});

test('duplicate models, configs and endpoints are refused as "Cannot create already existing ..."', async () => {
  await modelAndConfig('dup');
  await h.sm.send(new CreateEndpointCommand({ EndpointName: 'ep-dup', EndpointConfigName: 'config-dup' }));
  const model = await rejectionOf(h.smOnce.send(new CreateModelCommand({ ModelName: 'model-dup', PrimaryContainer: { Image: 'x' } })));
  expect([model.name, model.message]).toEqual(['ValidationException', 'Cannot create already existing model "arn:aws:sagemaker:us-east-1:000000000000:model/model-dup".']);
  const config = await rejectionOf(
    h.smOnce.send(new CreateEndpointConfigCommand({ EndpointConfigName: 'config-dup', ProductionVariants: [{ VariantName: 'a', ModelName: 'model-dup' }] })),
  );
  expect(config.message).toBe('Cannot create already existing endpoint configuration "arn:aws:sagemaker:us-east-1:000000000000:endpoint-config/config-dup".');
  const ep = await rejectionOf(h.smOnce.send(new CreateEndpointCommand({ EndpointName: 'ep-dup', EndpointConfigName: 'config-dup' })));
  expect(ep.message).toBe('Cannot create already existing endpoint "arn:aws:sagemaker:us-east-1:000000000000:endpoint/ep-dup".');
});

test('deleting the model and config an endpoint uses is allowed and the endpoint keeps serving; DeleteEndpoint removes it', async () => {
  await modelAndConfig('del');
  await h.sm.send(new CreateEndpointCommand({ EndpointName: 'ep-del', EndpointConfigName: 'config-del' }));
  await waitStatus('ep-del', 'InService');
  await h.sm.send(new DeleteEndpointConfigCommand({ EndpointConfigName: 'config-del' }));
  await h.sm.send(new DeleteModelCommand({ ModelName: 'model-del' }));
  const out = await h.rt.send(new InvokeEndpointCommand({ EndpointName: 'ep-del', Body: Buffer.from('ping') }));
  expect(out.InvokedProductionVariant).toBe('AllTraffic');
  await h.sm.send(new DeleteEndpointCommand({ EndpointName: 'ep-del' }));
  await until('deleted', async () => {
    const err = await rejectionOf(h.smOnce.send(new DescribeEndpointCommand({ EndpointName: 'ep-del' })));
    return err.name === 'ValidationException' ? true : undefined;
  });
  expect(h.endpoints.isServing('ep-del')).toBe(false);
});

test('ListEndpoints filters by StatusEquals and NameContains and pages with NextToken', async () => {
  await modelAndConfig('l');
  for (const n of ['list-1', 'list-2', 'list-3']) {
    await h.sm.send(new CreateEndpointCommand({ EndpointName: n, EndpointConfigName: 'config-l' }));
  }
  for (const n of ['list-1', 'list-2', 'list-3']) await waitStatus(n, 'InService');
  const first = await h.sm.send(new ListEndpointsCommand({ MaxResults: 2, SortBy: 'Name', SortOrder: 'Descending', NameContains: 'list', StatusEquals: 'InService' }));
  expect(first.Endpoints?.map((e) => e.EndpointName)).toEqual(['list-3', 'list-2']);
  const second = await h.sm.send(
    new ListEndpointsCommand({ MaxResults: 2, SortBy: 'Name', SortOrder: 'Descending', NameContains: 'list', StatusEquals: 'InService', NextToken: first.NextToken }),
  );
  expect(second.Endpoints?.map((e) => e.EndpointName)).toEqual(['list-1']);
  expect(second.NextToken).toBeUndefined();
  const none = await h.sm.send(new ListEndpointsCommand({ StatusEquals: 'Failed' }));
  expect(none.Endpoints).toEqual([]);
});

test('a throttle fault answers ThrottlingException, and the SDK\'s default retries get through', async () => {
  await injectFault(h.server.url, { operation: 'ListEndpoints', mode: 'throttle', count: 1 });
  const err = await rejectionOf(h.smOnce.send(new ListEndpointsCommand({})));
  expect(err.name).toBe('ThrottlingException');
  expect(err.$metadata?.httpStatusCode).toBe(400);

  await injectFault(h.server.url, { operation: 'ListEndpoints', mode: 'throttle', count: 2 });
  const ok = await h.sm.send(new ListEndpointsCommand({}));
  expect(ok.Endpoints).toEqual([]);
  expect(ok.$metadata.attempts).toBe(3);
});

test('an error fault answers the given type and HTTP status for the next calls only', async () => {
  await injectFault(h.server.url, { operation: 'DescribeEndpoint', mode: 'error', count: 1, errorType: 'InternalFailure', httpStatus: 500, message: 'boom' });
  const err = await rejectionOf(h.smOnce.send(new DescribeEndpointCommand({ EndpointName: 'whatever' })));
  expect([err.name, err.message, err.$metadata?.httpStatusCode]).toEqual(['InternalFailure', 'boom', 500]);
  const next = await rejectionOf(h.smOnce.send(new DescribeEndpointCommand({ EndpointName: 'whatever' })));
  expect(next.name).toBe('ValidationException');
});
