// The local control plane as SageMaker answers, each expectation taken from
// botocore's service-2.json shapes, moto's messages or SageMaker's documentation,
// and each checked through the AWS SDK against the real control plane with its
// real runtime (serving processes in env isolation, a small program of this test).
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  AddTagsCommand,
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  CreateModelPackageCommand,
  CreateModelPackageGroupCommand,
  DeleteEndpointCommand,
  DeleteTagsCommand,
  DescribeEndpointCommand,
  DescribeModelCommand,
  ListEndpointsCommand,
  ListModelPackageGroupsCommand,
  ListModelPackagesCommand,
  ListModelsCommand,
  ListTagsCommand,
  UpdateEndpointCommand,
  type ListModelPackagesCommandInput,
} from '@aws-sdk/client-sagemaker';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { ApplicationFailure } from '@temporalio/common';
import { snapshotContext } from '../../src/artifacts/image-store';
import { deleteEndpoint as deleteEndpointActivityCall } from '../../src/activities/endpoint-calls';
import { injectFault } from '../../src/local/admin-client';
import { ErrorTypes } from '../../src/shared';
import { startPlane, type Plane } from './integration/helpers';
import { writeModelArchive } from './runtime/fixtures';
import { makeTempDir, removeDir, until } from './support';

jest.setTimeout(60_000);

const ROLE = 'arn:aws:iam::000000000000:role/champ-local';
const ARN = (type: string, name: string) => `arn:aws:sagemaker:us-east-1:000000000000:${type}/${name}`;

/**
 * serve: GET /ping 200. POST /invocations:
 *   "count"  answers how many invocations reached it before this one;
 *   "boom"   answers 500 "model exploded: <n>";
 *   "bad"    answers 400 "unsupported input";
 *   else     answers the byte count, echoing X-Amzn-SageMaker-Custom-Attributes as "seen=<value>".
 */
const SERVE = `#!/usr/bin/env python3
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
seen = [0]
class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *a):
        pass
    def reply(self, code, body, extra=None):
        self.send_response(code)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        self.reply(200 if self.path == '/ping' else 404, b'ok')
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        before = seen[0]
        seen[0] += 1
        if body == b'count':
            self.reply(200, str(before).encode())
        elif body == b'boom':
            self.reply(500, ('model exploded: %d' % before).encode())
        elif body == b'bad':
            self.reply(400, b'unsupported input')
        else:
            attrs = self.headers.get('X-Amzn-SageMaker-Custom-Attributes')
            extra = {} if attrs is None else {'X-Amzn-SageMaker-Custom-Attributes': 'seen=' + attrs}
            self.reply(200, str(len(body)).encode(), extra)
ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer((os.environ.get('SAGEMAKER_BIND_HOST', '127.0.0.1'), int(os.environ['SAGEMAKER_BIND_TO_PORT'])), H).serve_forever()
`;

let dir: string;
let plane: Plane;
let image: string;
let modelData: string;

beforeAll(async () => {
  dir = await makeTempDir('fidelity');
  const ctx = path.join(dir, 'ctx');
  await fsp.mkdir(path.join(ctx, 'program'), { recursive: true });
  await fsp.writeFile(path.join(ctx, 'program', 'serve'), SERVE, { mode: 0o755 });
  await fsp.writeFile(path.join(ctx, 'program', 'train'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const store = path.join(dir, 'images');
  image = (await snapshotContext({ contextDir: ctx, repository: 'fidelity', store })).imageUri;
  modelData = await writeModelArchive(dir, 'fidelity');
  plane = await startPlane({ stateDir: path.join(dir, 'home'), imageStore: store, isolation: 'env', healthTimeoutMs: 10_000 });
});

afterAll(async () => {
  await plane?.close();
  if (dir) await removeDir(dir);
});

type ServiceError = Error & { $metadata?: { httpStatusCode?: number }; [k: string]: unknown };

async function rejection(call: Promise<unknown>): Promise<ServiceError> {
  try {
    await call;
  } catch (e) {
    return e as ServiceError;
  }
  throw new Error('expected the call to be refused');
}

async function modelAndConfig(suffix: string): Promise<string> {
  await plane.sm.send(new CreateModelCommand({ ModelName: `m-${suffix}`, ExecutionRoleArn: ROLE, PrimaryContainer: { Image: image, ModelDataUrl: modelData } }));
  await plane.sm.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: `c-${suffix}`,
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: `m-${suffix}`, InitialInstanceCount: 1, InstanceType: 'ml.m5.large' }],
    }),
  );
  return `c-${suffix}`;
}

const status = async (name: string) => (await plane.sm.send(new DescribeEndpointCommand({ EndpointName: name }))).EndpointStatus;

async function waitStatus(name: string, want: string): Promise<void> {
  await until(`${name} ${want}`, async () => ((await status(name)) === want ? true : undefined), 30_000);
}

async function serving(suffix: string): Promise<string> {
  const config = await modelAndConfig(suffix);
  const name = `ep-${suffix}`;
  await plane.sm.send(new CreateEndpointCommand({ EndpointName: name, EndpointConfigName: config }));
  await waitStatus(name, 'InService');
  return name;
}

const invoke = (endpoint: string, body: string | Uint8Array, extra: { CustomAttributes?: string } = {}) =>
  plane.rt.send(new InvokeEndpointCommand({ EndpointName: endpoint, ContentType: 'text/plain', Body: typeof body === 'string' ? Buffer.from(body) : body, ...extra }));

const text = (out: { Body?: Uint8Array }) => Buffer.from(out.Body ?? new Uint8Array()).toString('utf8');

describe('changes to an endpoint in flight', () => {
  const inProgress = (name: string) => `Cannot update in-progress endpoint "${ARN('endpoint', name)}".`;

  test('DeleteEndpoint and UpdateEndpoint while Creating are refused as SageMaker refuses them; both work once InService', async () => {
    const config = await modelAndConfig('busy');
    await injectFault(plane.server.url, { kind: 'hold', resource: 'endpoint', status: 'Creating', ms: 8000, count: 1 });
    await plane.sm.send(new CreateEndpointCommand({ EndpointName: 'ep-busy', EndpointConfigName: config }));
    expect(await status('ep-busy')).toBe('Creating');

    const del = await rejection(plane.smOnce.send(new DeleteEndpointCommand({ EndpointName: 'ep-busy' })));
    expect(del.name).toBe('ValidationException');
    expect(del.message).toBe(inProgress('ep-busy'));
    const upd = await rejection(plane.smOnce.send(new UpdateEndpointCommand({ EndpointName: 'ep-busy', EndpointConfigName: config })));
    expect(upd.name).toBe('ValidationException');
    expect(upd.message).toBe(inProgress('ep-busy'));
    // Refused means untouched: still Creating, and it goes on to serve.
    expect(await status('ep-busy')).toBe('Creating');
    await waitStatus('ep-busy', 'InService');
    expect(text(await invoke('ep-busy', 'abcd'))).toBe('4');
    const next = await modelAndConfig('busy2');
    await plane.sm.send(new UpdateEndpointCommand({ EndpointName: 'ep-busy', EndpointConfigName: next }));
    await waitStatus('ep-busy', 'InService');
    await plane.sm.send(new DeleteEndpointCommand({ EndpointName: 'ep-busy' }));
  });

  test('DeleteEndpoint while Updating is refused; after the update it deletes', async () => {
    const name = await serving('upd');
    const next = await modelAndConfig('upd2');
    await injectFault(plane.server.url, { kind: 'hold', resource: 'endpoint', status: 'Updating', ms: 3000, count: 1 });
    await plane.sm.send(new UpdateEndpointCommand({ EndpointName: name, EndpointConfigName: next }));
    expect(await status(name)).toBe('Updating');
    const del = await rejection(plane.smOnce.send(new DeleteEndpointCommand({ EndpointName: name })));
    expect(del.message).toBe(inProgress(name));
    // The endpoint kept serving through the refused delete.
    expect(text(await invoke(name, 'x'))).toBe('1');

    await waitStatus(name, 'InService');
    await plane.smOnce.send(new DeleteEndpointCommand({ EndpointName: name }));
    await until(`${name} gone`, async () => ((await status(name).catch(() => 'gone')) === 'gone' ? true : undefined), 30_000);
  });

  test("the worker's delete waits the refusal out: a retryable NotReady while Creating, done once the endpoint settles", async () => {
    const config = await modelAndConfig('wait');
    await injectFault(plane.server.url, { kind: 'hold', resource: 'endpoint', status: 'Creating', ms: 2000, count: 1 });
    await plane.sm.send(new CreateEndpointCommand({ EndpointName: 'ep-wait', EndpointConfigName: config }));
    const err = await rejection(deleteEndpointActivityCall(plane.smOnce, 'ep-wait'));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as unknown as ApplicationFailure).type).toBe(ErrorTypes.NotReady);
    expect((err as unknown as ApplicationFailure).nonRetryable).toBe(false);
    expect(err.message).toMatch(/^endpoint ep-wait is Creating or Updating/);

    await waitStatus('ep-wait', 'InService');
    await deleteEndpointActivityCall(plane.smOnce, 'ep-wait');
    expect(await status('ep-wait').catch(() => 'gone')).toMatch(/^(Deleting|gone)$/);
    // Deleting again (a retried activity) and deleting what is gone both count as done.
    await deleteEndpointActivityCall(plane.smOnce, 'ep-wait');
    await until('ep-wait gone', async () => ((await status('ep-wait').catch(() => 'gone')) === 'gone' ? true : undefined), 30_000);
    await deleteEndpointActivityCall(plane.smOnce, 'ep-wait');
  });
});

describe('InvokeEndpoint', () => {
  let endpoint: string;
  beforeAll(async () => {
    endpoint = await serving('inv');
  });

  test('CustomAttributes reach the container as X-Amzn-SageMaker-Custom-Attributes, and its answer header comes back', async () => {
    const out = await invoke(endpoint, 'abc', { CustomAttributes: 'trace=42,tenant=blue' });
    expect(text(out)).toBe('3');
    expect(out.CustomAttributes).toBe('seen=trace=42,tenant=blue');
    const plain = await invoke(endpoint, 'abc');
    expect(plain.CustomAttributes).toBeUndefined();
  });

  test('CustomAttributes over 1024 characters are a ValidationError that does not echo the (sensitive) value', async () => {
    const err = await rejection(invoke(endpoint, 'abc', { CustomAttributes: 'a'.repeat(1025) }));
    expect(err.name).toBe('ValidationError');
    expect(err.message).toBe("1 validation error detected: Value at 'customAttributes' failed to satisfy constraint: Member must have length less than or equal to 1024");
  });

  test('a body over 6 MB is refused with a ValidationError before it reaches the container; 6 MB exactly is served', async () => {
    const before = Number(text(await invoke(endpoint, 'count')));
    const err = await rejection(invoke(endpoint, Buffer.alloc(6 * 1024 * 1024 + 1, 0x61)));
    expect(err.name).toBe('ValidationError');
    expect(err.$metadata?.httpStatusCode).toBe(413);
    expect(err.message).toMatch(/^Request [0-9a-f-]{36} has oversize body\. .*at most 6291456 bytes/);
    // Only the two "count" calls reached the container.
    expect(Number(text(await invoke(endpoint, 'count')))).toBe(before + 1);
    expect(text(await invoke(endpoint, Buffer.alloc(6 * 1024 * 1024, 0x61)))).toBe(String(6 * 1024 * 1024));
  });

  test("a container's 5xx and 4xx are ModelError in the runtime's words, with OriginalStatusCode, OriginalMessage and LogStreamArn", async () => {
    const boom = await rejection(invoke(endpoint, 'boom'));
    expect(boom.name).toBe('ModelError');
    expect(boom.$metadata?.httpStatusCode).toBe(424);
    const original = String(boom.OriginalMessage);
    expect(original).toMatch(/^model exploded: \d+$/);
    expect(boom.message).toBe(
      `Received server error (500) from primary with message "${original}". See https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEventViewer:group=/aws/sagemaker/Endpoints/${endpoint} in account 000000000000 for more information.`,
    );
    expect(boom.OriginalStatusCode).toBe(500);
    expect(boom.LogStreamArn).toBe(`arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/${endpoint}`);

    const bad = await rejection(invoke(endpoint, 'bad'));
    expect(bad.message).toMatch(/^Received client error \(400\) from primary with message "unsupported input"\. See https:/);
    expect(bad.OriginalStatusCode).toBe(400);
  });
});

describe('tags', () => {
  test('DeleteTags removes the keys named, ignores keys the resource lacks, and ListTags shows what is left', async () => {
    await plane.sm.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: 'tagged', Tags: [{ Key: 'team', Value: 'risk' }, { Key: 'stage', Value: 'dev' }] }));
    const arn = ARN('model-package-group', 'tagged');
    await plane.sm.send(new AddTagsCommand({ ResourceArn: arn, Tags: [{ Key: 'owner', Value: 'ana' }] }));
    await plane.sm.send(new DeleteTagsCommand({ ResourceArn: arn, TagKeys: ['stage', 'never-set'] }));
    expect((await plane.sm.send(new ListTagsCommand({ ResourceArn: arn }))).Tags).toEqual([
      { Key: 'team', Value: 'risk' },
      { Key: 'owner', Value: 'ana' },
    ]);
    await plane.sm.send(new DeleteTagsCommand({ ResourceArn: arn, TagKeys: ['team', 'owner'] }));
    expect((await plane.sm.send(new ListTagsCommand({ ResourceArn: arn }))).Tags).toEqual([]);
  });

  test('DeleteTags checks its members as the shapes say: TagKeys 1 to 50 keys, each 1 to 128 characters of the tag key pattern', async () => {
    const arn = ARN('model-package-group', 'x');
    const none = await rejection(plane.smOnce.send(new DeleteTagsCommand({ ResourceArn: arn, TagKeys: [] })));
    expect(none.name).toBe('ValidationException');
    expect(none.message).toBe("1 validation error detected: Value '[]' at 'tagKeys' failed to satisfy constraint: Member must have length greater than or equal to 1");
    const bad = await rejection(plane.smOnce.send(new DeleteTagsCommand({ ResourceArn: arn, TagKeys: ['ok', 'no*stars', 'k'.repeat(129)] })));
    expect(bad.message).toBe(
      "2 validation errors detected: Value 'no*stars' at 'tagKeys.2.member' failed to satisfy constraint: Member must satisfy regular expression pattern: ([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*); " +
        `Value '${'k'.repeat(129)}' at 'tagKeys.3.member' failed to satisfy constraint: Member must have length less than or equal to 128`,
    );
    const missing = await rejection(plane.smOnce.send(new DeleteTagsCommand({ ResourceArn: 'not-an-arn', TagKeys: ['a'] })));
    expect(missing.message).toContain("at 'resourceArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws[a-z\\-]*:sagemaker:");
  });

  test('ListTags MaxResults is at least 50 (ListTagsMaxResults), with no upper bound', async () => {
    const arn = ARN('model-package-group', 'x');
    const err = await rejection(plane.smOnce.send(new ListTagsCommand({ ResourceArn: arn, MaxResults: 10 })));
    expect(err.name).toBe('ValidationException');
    expect(err.message).toBe("1 validation error detected: Value '10' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 50");
    await expect(plane.sm.send(new ListTagsCommand({ ResourceArn: arn, MaxResults: 50 }))).resolves.toMatchObject({ Tags: [] });
    await expect(plane.sm.send(new ListTagsCommand({ ResourceArn: arn, MaxResults: 500 }))).resolves.toMatchObject({ Tags: [] });
  });
});

describe('list filters and names', () => {
  test.each([
    ['ListEndpoints', () => new ListEndpointsCommand({ NameContains: 'ep_1' }), '[a-zA-Z0-9-]+'],
    ['ListModels', () => new ListModelsCommand({ NameContains: 'm 1' }), '[a-zA-Z0-9-]+'],
    ['ListModelPackageGroups', () => new ListModelPackageGroupsCommand({ NameContains: 'g*' }), '[a-zA-Z0-9\\-]+'],
    ['ListModelPackages', () => new ListModelPackagesCommand({ NameContains: 'p.1' }), '[a-zA-Z0-9\\-]+'],
  ] as const)('%s refuses a NameContains outside its pattern, worded as its shape writes it', async (_op, command, pattern) => {
    const cmd = command();
    const err = await rejection(plane.smOnce.send(cmd as never));
    expect(err.name).toBe('ValidationException');
    expect(err.message).toBe(
      `1 validation error detected: Value '${String(cmd.input.NameContains)}' at 'nameContains' failed to satisfy constraint: Member must satisfy regular expression pattern: ${pattern}`,
    );
  });

  test('name-pattern messages name each resource type\'s own pattern: ModelName\'s differs from EndpointName\'s', async () => {
    const model = await rejection(plane.smOnce.send(new DescribeModelCommand({ ModelName: 'bad_name' })));
    expect(model.message).toBe(
      "1 validation error detected: Value 'bad_name' at 'modelName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?",
    );
    const created = await rejection(plane.smOnce.send(new CreateModelCommand({ ModelName: 'bad-', ExecutionRoleArn: ROLE, PrimaryContainer: { Image: image } })));
    expect(created.message).toContain("Value 'bad-' at 'modelName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?");
    const config = await rejection(
      plane.smOnce.send(new CreateEndpointConfigCommand({ EndpointConfigName: 'c-ok', ProductionVariants: [{ VariantName: 'v', ModelName: 'm_1', InitialInstanceCount: 1 }] })),
    );
    expect(config.message).toContain("at 'productionVariants.1.modelName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?");
    const endpoint = await rejection(plane.smOnce.send(new DescribeEndpointCommand({ EndpointName: 'bad_name' })));
    expect(endpoint.message).toBe(
      "1 validation error detected: Value 'bad_name' at 'endpointName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
    );
  });
});

describe('model registry', () => {
  async function group(name: string, packages: number): Promise<void> {
    await plane.sm.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: name }));
    for (let i = 0; i < packages; i++) {
      await plane.sm.send(
        new CreateModelPackageCommand({
          ModelPackageGroupName: name,
          InferenceSpecification: { Containers: [{ Image: image }], SupportedContentTypes: ['text/csv'], SupportedResponseMIMETypes: ['text/csv'] },
        }),
      );
    }
  }

  test('ListModelPackages and ListModelPackageGroups list oldest first by default (SortOrder Ascending, SortBy CreationTime)', async () => {
    await group('reg-b', 3);
    await group('reg-a', 0);
    const versions = (await plane.sm.send(new ListModelPackagesCommand({ ModelPackageGroupName: 'reg-b' }))).ModelPackageSummaryList?.map((p) => p.ModelPackageVersion);
    expect(versions).toEqual([1, 2, 3]);
    const groups = (await plane.sm.send(new ListModelPackageGroupsCommand({ NameContains: 'reg-' }))).ModelPackageGroupSummaryList?.map((g) => g.ModelPackageGroupName);
    // Created b then a: oldest first is not alphabetical here.
    expect(groups).toEqual(['reg-b', 'reg-a']);
  });

  test('ModelPackageType: without a group only unversioned packages are listed by default (none exist locally); Versioned and Both list the versioned ones; a group lists its versions', async () => {
    await group('typed', 2);
    const list = async (input: ListModelPackagesCommandInput) =>
      ((await plane.sm.send(new ListModelPackagesCommand(input))).ModelPackageSummaryList ?? []).map((p) => `${p.ModelPackageGroupName}/${p.ModelPackageVersion}`);
    expect(await list({ NameContains: 'typed' })).toEqual([]);
    expect(await list({ NameContains: 'typed', ModelPackageType: 'Unversioned' })).toEqual([]);
    expect(await list({ NameContains: 'typed', ModelPackageType: 'Versioned' })).toEqual(['typed/1', 'typed/2']);
    expect(await list({ NameContains: 'typed', ModelPackageType: 'Both' })).toEqual(['typed/1', 'typed/2']);
    expect(await list({ ModelPackageGroupName: 'typed' })).toEqual(['typed/1', 'typed/2']);
    const err = await rejection(plane.smOnce.send(new ListModelPackagesCommand({ ModelPackageType: 'Some' as never })));
    expect(err.message).toBe("1 validation error detected: Value 'Some' at 'modelPackageType' failed to satisfy constraint: Member must satisfy enum value set: [Versioned, Unversioned, Both]");
  });
});
