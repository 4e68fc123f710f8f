import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  loadSpecFile,
  parseSpec,
  parseSpecText,
  resolveFileUri,
  safeParseSpec,
  type PipelineSpecInput,
} from '../../src/spec';
import { SPEC_FIXTURES } from './corpus';
import { baseSpec, specError } from './support';

const valid = (name: string) => path.join(SPEC_FIXTURES, 'valid', name);

const base = baseSpec;

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'champ-spec-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('valid fixtures', () => {
  test('the minimal spec gets every default', () => {
    const { spec } = loadSpecFile(valid('minimal.yaml'));
    expect(spec.image.dockerfile).toBe('Dockerfile');
    expect(spec.training.inputs[0]!.contentType).toBe('text/csv');
    expect(spec.training).toMatchObject({
      hyperparameters: {},
      instanceType: 'ml.m5.large',
      instanceCount: 1,
      volumeSizeGB: 10,
      maxRuntime: '1h',
      roleArn: 'arn:aws:iam::000000000000:role/champ-local',
      metrics: [],
      environment: {},
    });
    expect(spec.gate).toEqual({ thresholds: [] });
    expect(spec.approval).toEqual({ required: false, timeout: '24h', onTimeout: 'reject' });
    expect(spec.deployment).toEqual({
      endpointName: 'minimal',
      instanceType: 'ml.m5.large',
      instanceCount: 1,
      variantName: 'AllTraffic',
      strategy: { type: 'all-at-once', waitInterval: '5m', terminationWait: '0s', alarms: [] },
      keep: 3,
      environment: {},
      whenFrozen: 'wait',
    });
    expect(spec.schedule).toBeUndefined();
    expect(spec.timeouts).toEqual({ build: '1h', training: '6h', deploy: '1h' });
    expect(spec.tags).toEqual({});
  });

  test('the full claims-severity spec keeps what it says and defaults the rest', () => {
    const { spec, path: file } = loadSpecFile(valid('claims-severity.yaml'));
    expect(file).toBe(valid('claims-severity.yaml'));
    expect(spec.deployment.strategy).toEqual({
      type: 'canary',
      canaryPercent: 10,
      waitInterval: '10m',
      terminationWait: '5m',
      alarms: ['claims-severity-5xx', 'claims-severity-latency-p99'],
    });
    expect(spec.gate.thresholds).toEqual([{ metric: 'validation:gini', op: '>=', value: 0.1 }]);
    expect(spec.gate.champion).toEqual({ metric: 'validation:deviance', direction: 'minimize', minImprovement: 0.001 });
    expect(spec.approval).toEqual({ required: true, timeout: '3d', onTimeout: 'reject' });
    expect(spec.schedule).toEqual({ cron: '0 3 * * 1', timezone: 'Europe/London', overlap: 'skip', skipWhenDataUnchanged: true });
    expect(spec.deployment.smokeTest).toEqual({
      contentType: 'application/json',
      accept: 'application/json',
      body: { instances: [{ driver_age: 35 }] },
      expectStatus: 200,
      expectJsonPaths: ['predictions.0.prediction'],
    });
    expect(spec.training.metrics.map((m) => m.name)).toEqual(['validation:deviance', 'validation:gini']);
    // Hyperparameters keep their YAML types; the activity turns them into strings.
    expect(spec.training.hyperparameters).toEqual({ power: 1.5, max_iter: 100, tol: '1e-8', l2: 0.0001 });
  });

  test('a loaded spec survives a JSON round trip and parses again to itself (the worker re-validates it)', () => {
    const { spec } = loadSpecFile(valid('claims-severity.yaml'));
    const again = parseSpec(JSON.parse(JSON.stringify(spec)) as unknown);
    expect(again).toEqual(spec);
  });

  test('a JSON spec loads by its extension, defaults applied', () => {
    const { spec } = loadSpecFile(valid('linear-prebuilt.json'));
    expect(spec.deployment.strategy).toMatchObject({ type: 'linear', linearStepPercent: 25, terminationWait: '0s' });
    expect(spec.gate.champion?.minImprovement).toBe(0);
    expect(spec.deployment.smokeTest?.expectStatus).toBe(200);
  });
});

describe('relative locations', () => {
  test('image.context and relative file:// URIs resolve against the spec file folder, not the working directory', () => {
    const { spec } = loadSpecFile(path.relative(process.cwd(), valid('claims-severity.yaml')));
    const folder = path.join(SPEC_FIXTURES, 'valid');
    expect(spec.image.context).toBe(path.join(SPEC_FIXTURES, 'context', 'claims-severity'));
    expect(spec.training.inputs.map((c) => c.uri)).toEqual([`file://${folder}/data/train`, `file://${folder}/data/validation`]);
    expect(spec.training.outputPath).toBe(`file://${folder}/models`);
  });

  test.each([
    ['file://./data/train', 'file:///base/dir/data/train'],
    ['file://data/train', 'file:///base/dir/data/train'],
    ['file://../shared/train/', 'file:///base/shared/train/'],
    ['file:///abs/data/train', 'file:///abs/data/train'],
    ['s3://bucket/data/train', 's3://bucket/data/train'],
  ])('%s becomes %s', (uri, expected) => {
    expect(resolveFileUri(uri, '/base/dir')).toBe(expected);
  });

  test('parseSpec leaves the build context unchecked and unresolved (the worker checks where the files are)', () => {
    const spec = parseSpec({ ...base(), image: { context: './nowhere' } });
    expect(spec.image.context).toBe('./nowhere');
  });

  test('loadSpecFile refuses a context folder without the Dockerfile, naming image.context', () => {
    mkdirSync(path.join(tmp, 'model'));
    writeFileSync(path.join(tmp, 'spec.yaml'), JSON.stringify({ ...base(), image: { context: './model' } }));
    const error = specError(() => loadSpecFile(path.join(tmp, 'spec.yaml')));
    expect(error.issues).toEqual([expect.objectContaining({ path: 'image.context', message: expect.stringContaining('holds no Dockerfile') })]);
    writeFileSync(path.join(tmp, 'model', 'Dockerfile'), 'FROM scratch\n');
    expect(loadSpecFile(path.join(tmp, 'spec.yaml')).spec.image.context).toBe(path.join(tmp, 'model'));
  });
});

describe('syntax errors', () => {
  test('a YAML syntax error names the file, line and column', () => {
    const file = path.join(tmp, 'broken.yml');
    writeFileSync(file, 'name: claims-severity\nimage:\n  uri: x\n training:\n    inputs: []\n');
    const error = specError(() => loadSpecFile(file));
    expect(error.file).toBe(file);
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatchObject({ path: '', line: 4, column: 1, message: 'YAML syntax error: All mapping items must start at the same column' });
    expect(error.format()).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:1: YAML syntax error: `));
  });

  test('a duplicate YAML key is refused at its line, naming the key', () => {
    const file = path.join(tmp, 'dup.yaml');
    writeFileSync(file, 'name: a\nname: b\n');
    expect(specError(() => loadSpecFile(file)).issues[0]).toMatchObject({ path: 'name', line: 2, message: expect.stringContaining('lines 1 and 2') });
  });

  test('a JSON syntax error names the file, line and column', () => {
    const file = path.join(tmp, 'broken.json');
    writeFileSync(file, '{\n  "name": "claims-severity",\n  "image": { "uri": "x" },\n}\n');
    const error = specError(() => loadSpecFile(file));
    expect(error.issues[0]).toMatchObject({ path: '', line: 4, column: 1, message: expect.stringContaining('JSON syntax error') });
    expect(error.format()).toContain(`${file}:4:1: JSON syntax error`);
  });

  test('a missing spec file is a SpecError naming the file', () => {
    const error = specError(() => loadSpecFile(path.join(tmp, 'nope.yaml')));
    expect(error.format()).toBe(`${path.join(tmp, 'nope.yaml')}: cannot read the spec file: no such file`);
  });

  test('an unknown extension is read as YAML', () => {
    const file = path.join(tmp, 'spec.txt');
    writeFileSync(file, 'name: claims-severity\n');
    expect(specError(() => loadSpecFile(file)).issues.map((i) => i.path)).toEqual(['image', 'training', 'deployment']);
  });
});

describe('SpecError', () => {
  test('formats one line per issue with found and expected', () => {
    const spec = base();
    spec.deployment = { endpointName: 'claims-severity', strategy: { type: 'canary' } };
    const error = specError(() => parseSpec(spec));
    expect(error.name).toBe('SpecError');
    expect(error.format()).toBe(
      'deployment.strategy.canaryPercent: required when strategy.type is "canary" (found: nothing; expected: a number in (0, 100))',
    );
    expect(error.message).toContain(error.format());
  });

  test('reports every field-shape problem at once, with array indexes in paths', () => {
    const spec = base();
    spec.name = 'claims_severity';
    spec.training.inputs = [
      { name: 'train', uri: 's3://champ-data/train/' },
      { name: 'validation', uri: 'http://example.com/v.csv' },
    ];
    spec.deployment = { endpointName: 'claims-severity', keep: 0 };
    const error = specError(() => parseSpec(spec));
    expect(error.issues.map((i) => i.path)).toEqual(['name', 'training.inputs[1].uri', 'deployment.keep']);
    expect(error.issues[1]).toMatchObject({ found: '"http://example.com/v.csv"', expected: 'an s3:// or file:// URI' });
  });

  test('suggests the closest known key for a misspelled one', () => {
    const spec = base() as unknown as { training: Record<string, unknown> };
    spec.training.maxRuntme = '2h';
    const [issue] = specError(() => parseSpec(spec)).issues;
    expect(issue).toEqual({
      path: 'training.maxRuntme',
      message: 'unknown field "maxRuntme" in training; did you mean maxRuntime?',
      found: '"2h"',
      expected: expect.stringContaining('maxRuntime'),
    });
  });

  test('suggests no key when none is near', () => {
    const spec = base() as unknown as { training: Record<string, unknown> };
    spec.training.learningRate = 0.1;
    const [issue] = specError(() => parseSpec(spec)).issues;
    expect(issue!.message).toBe('unknown field "learningRate" in training');
  });

  test('lists the allowed values of an enum', () => {
    const spec = base();
    spec.schedule = { cron: '0 3 * * 1', overlap: 'queue' as 'skip' };
    const [issue] = specError(() => parseSpec(spec)).issues;
    expect(issue).toMatchObject({
      path: 'schedule.overlap',
      expected: 'one of "skip", "buffer-one", "buffer-all", "cancel-other", "terminate-other", "allow-all"',
    });
  });

  test('names the metrics training defines when the gate reads another', () => {
    const spec = base();
    spec.gate = { thresholds: [{ metric: 'validation:gini', op: '>=', value: 0.1 }, { metric: 'gini', op: '>=', value: 0.1 }] };
    const [issue] = specError(() => parseSpec(spec)).issues;
    expect(issue!.path).toBe('gate.thresholds[1].metric');
    expect(issue!.message).toContain('validation:deviance, validation:gini');
  });

  test('a non-object document is refused at the root', () => {
    expect(specError(() => parseSpecText('- just\n- a list\n')).format()).toBe('spec: must be a mapping (key: value) (found: a list ["just","a list"]; expected: a mapping (key: value))');
  });

  test('safeParseSpec returns the spec or the SpecError instead of throwing', () => {
    const ok = safeParseSpec(base());
    expect(ok.ok && ok.spec.name).toBe('claims-severity');
    const bad = safeParseSpec({ ...base(), name: '' });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error.issues[0]!.path).toBe('name');
  });
});

describe('cross-field rules at their limits', () => {
  const accepts = (mutate: (spec: PipelineSpecInput) => void) => {
    const spec = base();
    mutate(spec);
    return parseSpec(spec);
  };

  test('accepts 100 hyperparameters with 256-character keys and 2500-character values', () => {
    const hyperparameters: Record<string, string> = {};
    for (let i = 0; i < 100; i++) hyperparameters[`${String(i).padStart(3, '0')}${'k'.repeat(253)}`] = 'v'.repeat(2500);
    expect(Object.keys(accepts((s) => (s.training.hyperparameters = hyperparameters)).training.hyperparameters)).toHaveLength(100);
  });

  test('accepts 50 tags with 128-character keys and 256-character values', () => {
    const tags: Record<string, string> = {};
    for (let i = 0; i < 50; i++) tags[`${String(i).padStart(2, '0')}${'t'.repeat(126)}`] = 'v'.repeat(256);
    expect(Object.keys(accepts((s) => (s.tags = tags)).tags)).toHaveLength(50);
  });

  test('accepts a 28-day maxRuntime with a training deadline to match', () => {
    expect(accepts((s) => ((s.training.maxRuntime = '28d'), (s.timeouts = { training: '28d' }))).training.maxRuntime).toBe('28d');
  });

  test('accepts a 99.5% canary, a zero terminationWait and a one-hour waitInterval', () => {
    const spec = accepts((s) => (s.deployment.strategy = { type: 'canary', canaryPercent: 99.5, terminationWait: '0s', waitInterval: '1h' }));
    expect(spec.deployment.strategy.canaryPercent).toBe(99.5);
  });

  test('accepts cron macros Temporal understands, and refuses the ones it does not', () => {
    expect(accepts((s) => (s.schedule = { cron: '@daily' })).schedule?.cron).toBe('@daily');
    expect(specError(() => accepts((s) => (s.schedule = { cron: '@weekdays' }))).issues[0]!.path).toBe('schedule.cron');
  });

  test('accepts an object smoke-test body with a +json content type', () => {
    const spec = accepts((s) => (s.deployment.smokeTest = { contentType: 'application/vnd.claims+json', body: { instances: [] } }));
    expect(spec.deployment.smokeTest?.body).toEqual({ instances: [] });
  });

  test('accepts onTimeout approve when an approval is required', () => {
    expect(accepts((s) => (s.approval = { required: true, onTimeout: 'approve' })).approval.onTimeout).toBe('approve');
  });

  test('accepts SageMaker-sized environments: 100 variables, names and values at their limits', () => {
    const env = (n: number, keyLength: number, valueLength: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`V${String(i).padStart(3, '0')}${'K'.repeat(keyLength - 4)}`, 'v'.repeat(valueLength)]));
    const spec = accepts((s) => {
      s.training.environment = env(100, 512, 512);
      s.deployment.environment = env(100, 1024, 1024);
    });
    expect(Object.keys(spec.training.environment)).toHaveLength(100);
    expect(Object.keys(spec.deployment.environment)).toHaveLength(100);
  });

  test('accepts the ceilings: 100 instances, a 16 TiB volume, a 30-day approval, 35/2/2-day deadlines', () => {
    const spec = accepts((s) => {
      s.training.instanceCount = 100;
      s.training.volumeSizeGB = 16_384;
      s.training.maxRuntime = '28d';
      s.deployment.instanceCount = 100;
      s.approval = { required: true, timeout: '30d' };
      s.timeouts = { build: '2d', training: '35d', deploy: '48h' };
    });
    expect(spec.approval.timeout).toBe('30d');
    expect(spec.timeouts).toEqual({ build: '2d', training: '35d', deploy: '48h' });
  });

  test.each([
    'registry.example.com/pricing/claims-severity:1.4.0',
    'localhost:5000/claims',
    'claims',
    'champ.local/pricing/claims-severity:ctx-0123456789abcdef',
    `123456789012.dkr.ecr.eu-west-1.amazonaws.com/claims@sha256:${'a'.repeat(64)}`,
    `ghcr.io/org/claims__v2/model-x.y:v1.2_rc-3@sha256:${'0'.repeat(64)}`,
  ])('accepts the image reference %s', (uri) => {
    expect(accepts((s) => (s.image = { uri })).image.uri).toBe(uri);
  });

  test.each([
    ['text/csv; charset=utf-8', 'application/json, text/csv;q=0.5, */*;q=0.1'],
    ['application/vnd.claims+json', 'application/jsonlines'],
    ['text/csv;header="present"', '*/*'],
  ])('accepts the media types %s and %s', (contentType, accept) => {
    const spec = accepts((s) => (s.deployment.smokeTest = { contentType, accept, body: 'x' }));
    expect(spec.deployment.smokeTest).toMatchObject({ contentType, accept });
  });

  test('accepts file:// channels inside the spec folder and absolute ones, and an outputPath that climbs (outputs may go anywhere)', () => {
    const spec = accepts((s) => {
      s.training.inputs = [
        { name: 'train', uri: 'file://./data/train' },
        { name: 'validation', uri: 'file:///srv/data/validation/' },
      ];
      s.training.outputPath = 'file://../../.champ/artifacts/claims';
    });
    expect(spec.training.inputs).toHaveLength(2);
  });

  test('a metric regex with a safe repetition is accepted; the same with nested repetition is refused with the rule', () => {
    expect(accepts((s) => (s.training.metrics![0]!.regex = 'deviance=((?:[0-9]+,)+)')).training.metrics[0]!.regex).toBe('deviance=((?:[0-9]+,)+)');
    const error = specError(() => accepts((s) => (s.training.metrics![0]!.regex = 'deviance=((?:[0-9]+,?)+)')));
    expect(error.issues[0]).toMatchObject({ path: 'training.metrics[0].regex', message: expect.stringContaining('nothing else in the group tells one repetition from the next') });
  });

  test('an invalid environment name is reported on the key, with the rule', () => {
    const error = specError(() => accepts((s) => (s.deployment.environment = { 'bad-name': 'x' })));
    expect(error.issues).toEqual([
      {
        path: 'deployment.environment.bad-name',
        message: 'the key must be an environment variable name: letters, digits and _, not starting with a digit',
        found: '"bad-name"',
        expected: 'an environment variable name: letters, digits and _, not starting with a digit',
      },
    ]);
  });

  test('checks cross-field rules only once every field is valid on its own', () => {
    const spec = base();
    spec.training.maxRuntime = 'two hours';
    spec.deployment.strategy = { type: 'canary' };
    expect(specError(() => parseSpec(spec)).issues.map((i) => i.path)).toEqual(['training.maxRuntime']);
  });
});
