// The claims-severity model in R (examples/claims-severity-r) against the Python
// example, in docker mode: the R image is built from its Dockerfile, trains from
// /opt/ml as SageMaker lays it out and serves with plumber on 8080; on the same
// generated data its coefficients and answers agree with the Python example's
// within the tolerance its README states. Then the R example runs through the
// whole pipeline (a real worker, the local control plane, the image built by the
// pipeline's build stage) and its endpoint answers with risk terms.
// Without a Docker engine every test reports itself skipped, with why.
import { DescribeModelCommand, DescribeTrainingJobCommand } from '@aws-sdk/client-sagemaker';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseSpec } from '../../src/spec';
import { withWorker } from '../harness/temporal';
import { deepMerge, invokeExample, pipelineInput, runPipeline, startE2e, uniqueSuffix, type E2eEnv } from '../e2e/helpers';

const R_EXAMPLE = resolve(__dirname, '../../examples/claims-severity-r');
const PY_EXAMPLE = resolve(__dirname, '../../examples/claims-severity');
const PAYLOADS = join(PY_EXAMPLE, 'local_test');

// examples/claims-severity-r/README.md, "Agreement with the Python example":
// with l2 = 0 and the same tol, on the log scale.
const TOLERANCE = { coefficient: 1e-4, logPrediction: 2e-4 };
const ROWS = 5000;
const SEED = 7;
const HYPERPARAMETERS = { power: '1.5', max_iter: '50', tol: '1e-8', l2: '0' };

// Everything this file starts carries this label or this name, so cleanup finds exactly its own.
const RUN = `r-example-test-${process.pid}-${randomBytes(3).toString('hex')}`;
const LABEL = `org.champ.test=${RUN}`;
const IMAGE = `champ-test/claims-severity-r:${RUN}`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      command,
      args,
      { env: { ...minimalEnv(), ...opts.env }, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 32 * 1024 * 1024, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        done({ code, stdout, stderr: err && code === null ? `${err.message}\n${stderr}` : stderr });
      },
    );
  });
}

async function docker(args: string[], timeoutMs = 120_000): Promise<string> {
  const r = await run('docker', args, { timeoutMs });
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${String(r.code)}: ${r.stderr.trim().slice(-2000)}`);
  return r.stdout.trim();
}

// The programs must not depend on whatever SM_* or SAGEMAKER_* the test runner inherited.
function minimalEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'LANG', 'TMPDIR', 'DOCKER_HOST', 'DOCKER_CONFIG', 'DOCKER_CONTEXT']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/** Why the docker tests cannot run, or undefined when an engine answers (decided at load, so jest reports a skip). */
function engineMissing(): string | undefined {
  const r = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 15_000 });
  if (r.status === 0) return undefined;
  const why = (r.error?.message ?? r.stderr ?? '').trim().split('\n')[0] || `exit ${String(r.status)}`;
  return `no Docker engine answers (docker info: ${why}); scripts/engine/ensure.sh starts one as root on Debian`;
}

interface Term {
  name: string;
  kind: 'numeric' | 'indicator';
  coef: number;
  coef_std: number;
}

interface ModelFile {
  model_id: string;
  base: number;
  terms: Term[];
}

interface Scored {
  prediction: number;
  risk_terms: Record<string, number>;
}

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

async function post(port: number, body: string, contentType: string, accept = 'application/json'): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${port}/invocations`, {
    method: 'POST',
    headers: { 'Content-Type': contentType, Accept: accept },
    body,
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
}

async function predictions(port: number, body: string, contentType: string): Promise<Scored[]> {
  const answer = await post(port, body, contentType);
  if (answer.status !== 200) throw new Error(`POST /invocations on port ${port} answered ${answer.status}: ${answer.text}`);
  return (JSON.parse(answer.text) as { predictions: Scored[] }).predictions;
}

async function waitForPing(port: number, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/ping`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline) throw new Error(`${what} did not answer /ping within ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A folder laid out as SageMaker's /opt/ml for one training run. */
function optMl(root: string, data: string): string {
  mkdirSync(join(root, 'input', 'config'), { recursive: true });
  writeFileSync(join(root, 'input', 'config', 'hyperparameters.json'), JSON.stringify(HYPERPARAMETERS));
  for (const channel of ['train', 'validation']) {
    mkdirSync(join(root, 'input', 'data', channel), { recursive: true });
    writeFileSync(join(root, 'input', 'data', channel, `${channel}.csv`), readFileSync(join(data, channel, `${channel}.csv`)));
  }
  return root;
}

/** The container runs as this process's user, so the files it writes can be removed afterwards. */
function userArgs(): string[] {
  return typeof process.getuid === 'function' && typeof process.getgid === 'function' ? ['--user', `${process.getuid()}:${process.getgid()}`] : [];
}

function startPythonServer(modelDir: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('python3', [join(PY_EXAMPLE, 'program', 'serve')], {
      env: { ...minimalEnv(), SM_MODEL_DIR: modelDir, SAGEMAKER_BIND_HOST: '127.0.0.1', SAGEMAKER_BIND_TO_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the Python server printed no "listening on" within 20 s: ${out}`)), 20_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ child, port: Number(m[1]) });
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the Python server exited ${String(code)}: ${out}`));
    });
  });
}

function maxLogDifference(a: Scored[], b: Scored[]): number {
  expect(a).toHaveLength(b.length);
  return Math.max(...a.map((s, i) => Math.abs(Math.log(s.prediction) - Math.log(b[i]!.prediction))));
}

function expectExplained(scored: Scored[], reference: Scored[]): void {
  scored.forEach((s, i) => {
    // The same risk terms as the Python example, and they add up to log(prediction).
    expect(Object.keys(s.risk_terms)).toEqual(Object.keys(reference[i]!.risk_terms));
    const sum = Object.values(s.risk_terms).reduce((acc, v) => acc + v, 0);
    expect(Math.abs(sum - Math.log(s.prediction))).toBeLessThan(1e-9);
  });
}

const noEngine = engineMissing();
if (noEngine) console.warn(`R example tests skipped: ${noEngine}`);
const describeWithEngine = noEngine ? describe.skip : describe;
const skipped = noEngine ? ` (skipped: ${noEngine})` : '';

describeWithEngine(`the R example beside the Python example, on the same data${skipped}`, () => {
  let work = '';
  let data = '';
  let rMl = '';
  let pyMl = '';
  let rTrain: Run;
  let pyTrain: Run;
  let pyServer: ChildProcess | undefined;
  const rServer = `${RUN}-serve`;

  const model = (root: string): ModelFile => JSON.parse(readFileSync(join(root, 'model', 'model.json'), 'utf8')) as ModelFile;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'champ-r-example-'));
    data = join(work, 'data');
    const generated = await run('python3', [join(PY_EXAMPLE, 'generate.py'), '--rows', String(ROWS), '--seed', String(SEED), '--out', data]);
    if (generated.code !== 0) throw new Error(`generate.py exited ${String(generated.code)}: ${generated.stderr}`);
    // Where Docker Hub answers this may pull r-base and install three packages: minutes, once.
    await docker(['build', '-q', '--label', LABEL, '-t', IMAGE, R_EXAMPLE], 600_000);
    rMl = optMl(join(work, 'r'), data);
    pyMl = optMl(join(work, 'py'), data);
    [rTrain, pyTrain] = await Promise.all([
      run('docker', ['run', '--rm', '--init', '--label', LABEL, ...userArgs(), '-v', `${rMl}:/opt/ml`, IMAGE, 'train']),
      run('python3', [join(PY_EXAMPLE, 'program', 'train')], {
        env: { SM_INPUT_DIR: join(pyMl, 'input'), SM_MODEL_DIR: join(pyMl, 'model'), SM_OUTPUT_DIR: join(pyMl, 'output') },
      }),
    ]);
  }, 600_000);

  afterAll(async () => {
    pyServer?.kill('SIGTERM');
    if (!noEngine) {
      const left = (await run('docker', ['ps', '-aq', '--filter', `label=${LABEL}`])).stdout.split('\n').filter(Boolean);
      if (left.length > 0) await run('docker', ['rm', '-f', ...left]);
      await run('docker', ['rmi', '-f', IMAGE]);
    }
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('trains from /opt/ml as SageMaker lays it out: exit 0, model.json, metric lines, metrics.json', () => {
    expect({ code: rTrain.code, stderr: rTrain.stderr.slice(-2000) }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(pyTrain.code).toBe(0);
    for (const metric of ['train:deviance', 'train:gini', 'validation:deviance', 'validation:gini']) {
      expect(rTrain.stdout).toMatch(new RegExp(`^${metric}=[0-9.eE+-]+;$`, 'm'));
    }
    const r = model(rMl);
    expect(r.model_id).toMatch(/^claims-severity-r-[0-9a-f]{12}$/);
    const metrics = JSON.parse(readFileSync(join(rMl, 'output', 'data', 'metrics.json'), 'utf8')) as { model_id: string };
    expect(metrics.model_id).toBe(r.model_id);
  });

  it(`agrees with the Python example's coefficients within ${TOLERANCE.coefficient} on the log scale`, () => {
    const r = model(rMl);
    const py = model(pyMl);
    expect(r.terms.map((t) => t.name)).toEqual(py.terms.map((t) => t.name));
    // coef_std: per standard deviation of a numeric feature, the indicator's own for a region.
    const rows = [{ name: 'base', r: r.base, py: py.base }, ...r.terms.map((t, i) => ({ name: t.name, r: t.coef_std, py: py.terms[i]!.coef_std }))];
    const off = rows.filter((row) => !(Math.abs(row.r - row.py) <= TOLERANCE.coefficient));
    expect(off).toEqual([]);
    // Both report the same validation deviance to the precision the fits stop at.
    const deviance = (log: string): number => Number(/^validation:deviance=([0-9.eE+-]+);$/m.exec(log)?.[1]);
    expect(Math.abs(deviance(rTrain.stdout) / deviance(pyTrain.stdout) - 1)).toBeLessThan(1e-6);
  });

  it('serves with plumber on 8080 the same answers as the Python example, risk terms included', async () => {
    await docker(['run', '-d', '--rm', '--init', '--name', rServer, '--label', LABEL, '-p', '127.0.0.1::8080', '-v', `${rMl}:/opt/ml`, IMAGE, 'serve']);
    const bound = (await docker(['port', rServer, '8080/tcp'])).split('\n')[0] ?? '';
    expect(bound).toMatch(/^127\.0\.0\.1:\d+$/);
    const rPort = Number(bound.split(':')[1]);
    const py = await startPythonServer(join(pyMl, 'model'));
    pyServer = py.child;
    await waitForPing(rPort, 'the R container');

    const bodies: Array<[string, string]> = [
      [readFileSync(join(data, 'validation', 'validation.csv'), 'utf8'), 'text/csv'],
      [readFileSync(join(PAYLOADS, 'payload.csv'), 'utf8'), 'text/csv'],
      [readFileSync(join(PAYLOADS, 'payload.json'), 'utf8'), 'application/json'],
    ];
    for (const [body, type] of bodies) {
      const [fromR, fromPy] = await Promise.all([predictions(rPort, body, type), predictions(py.port, body, type)]);
      expect(fromR.length).toBeGreaterThan(0); // and as many as the Python example's: maxLogDifference checks
      expect(maxLogDifference(fromR, fromPy)).toBeLessThanOrEqual(TOLERANCE.logPrediction);
      expectExplained(fromR, fromPy);
    }

    const csv = await post(rPort, readFileSync(join(PAYLOADS, 'payload.csv'), 'utf8'), 'text/csv', 'text/csv');
    expect(csv.status).toBe(200);
    expect(csv.contentType).toMatch(/^text\/csv/);
    expect(csv.text.split('\n')[0]).toBe('prediction,base,driver_age,vehicle_age,vehicle_value,annual_mileage,region_east,region_north,region_west,log_exposure');

    const ping = (await (await fetch(`http://127.0.0.1:${rPort}/ping`)).json()) as { status: string; model_id: string };
    expect(ping).toEqual({ status: 'ok', model_id: model(rMl).model_id });
  }, 120_000);

  it("answers the contract's errors: 415, 406, 400 naming the row and field, 404", async () => {
    const rPort = Number((await docker(['port', rServer, '8080/tcp'])).split('\n')[0]?.split(':')[1]);
    const plain = await post(rPort, '35,4,20.2,14.3,east', 'text/plain');
    expect(plain.status).toBe(415);
    expect(JSON.parse(plain.text)).toEqual({ error: expect.stringContaining('text/csv or application/json') });
    expect((await post(rPort, '35,4,20.2,14.3,east', 'text/csv', 'image/png')).status).toBe(406);
    const bad = await post(rPort, '35,4,20.2,14.3,east\n62,old,9.5,6.0,north\n', 'text/csv');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toEqual({ error: "row 2: vehicle_age must be a number, got 'old'" });
    const region = await post(rPort, JSON.stringify({ instances: [{ driver_age: 35, vehicle_age: 4, vehicle_value: 20.2, annual_mileage: 14.3, region: 'south' }] }), 'application/json');
    expect(region.status).toBe(400);
    expect(region.text).toContain('central, east, north, west');
    expect((await post(rPort, '{"instances": [', 'application/json')).status).toBe(400);
    expect((await fetch(`http://127.0.0.1:${rPort}/nowhere`)).status).toBe(404);
  }, 60_000);

  it('fails a bad run as SageMaker expects: exit 1, the reason in /opt/ml/output/failure', async () => {
    const root = optMl(join(work, 'bad'), data);
    writeFileSync(join(root, 'input', 'config', 'hyperparameters.json'), JSON.stringify({ power: 'abc', l2: '0.01', sagemaker_program: 'x' }));
    const r = await run('docker', ['run', '--rm', '--init', '--label', LABEL, ...userArgs(), '-v', `${root}:/opt/ml`, IMAGE, 'train']);
    expect(r.code).toBe(1);
    const failure = readFileSync(join(root, 'output', 'failure'), 'utf8');
    expect(failure).toContain("hyperparameter 'power' must be a number strictly between 1 and 2");
    expect(failure).toContain("hyperparameter 'l2' must be 0");
    expect(failure).not.toContain('sagemaker_program');
  }, 60_000);
});

describeWithEngine(`the R example through the pipeline in docker mode${skipped}`, () => {
  let env: E2eEnv | undefined;
  const name = `csr-${uniqueSuffix()}`;

  beforeAll(async () => {
    env = await startE2e();
  }, 60_000);

  afterAll(async () => {
    await env?.stop();
    // The tag the pipeline's build stage made for this spec, and anything still running it.
    const tags = (await run('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}', `champ.local/${name}`])).stdout.split('\n').filter(Boolean);
    for (const tag of tags) {
      const left = (await run('docker', ['ps', '-aq', '--filter', `ancestor=${tag}`])).stdout.split('\n').filter(Boolean);
      if (left.length > 0) await run('docker', ['rm', '-f', ...left]);
    }
    if (tags.length > 0) await run('docker', ['rmi', '-f', ...tags]);
  }, 60_000);

  it('builds the image, trains, registers and deploys it; the endpoint answers from a container with risk terms', async () => {
    const e = env!;
    const data = join(e.home, 'r-data');
    const generated = await run('python3', [join(PY_EXAMPLE, 'generate.py'), '--rows', '3000', '--seed', String(SEED), '--out', data]);
    expect(generated.code).toBe(0);
    const example = parseYaml(readFileSync(join(R_EXAMPLE, 'pipeline.yaml'), 'utf8')) as Record<string, unknown>;
    const spec = parseSpec(
      deepMerge(example, {
        name,
        image: { context: R_EXAMPLE },
        training: {
          inputs: [
            { name: 'train', uri: `file://${join(data, 'train')}` },
            { name: 'validation', uri: `file://${join(data, 'validation')}` },
          ],
          outputPath: `file://${join(e.home, 'artifacts')}`,
          maxRuntime: '5m',
        },
        approval: { required: false },
        deployment: { endpointName: `e2e-${name}` },
        // A hang shows as the pipeline's own failure, well inside jest's timeout.
        timeouts: { build: '5m', training: '5m', deploy: '2m' },
        schedule: undefined,
      }),
    );

    const { result } = await withWorker({ activities: e.activities }, ({ client, taskQueue }) => runPipeline(client, taskQueue, pipelineInput(spec)));
    expect(result).toMatchObject({ outcome: 'deployed', endpointName: `e2e-${name}`, modelVersion: 1 });
    expect(result.imageUri).toMatch(new RegExp(`^champ\\.local/${name}:ctx-`));

    // The image the build stage made is a Docker image, and the endpoint runs in a container of it.
    const running = (await docker(['ps', '-q', '--filter', `ancestor=${result.imageUri!}`])).split('\n').filter(Boolean);
    expect(running.length).toBeGreaterThanOrEqual(1);
    const job = await e.sagemakerClient.send(new DescribeTrainingJobCommand({ TrainingJobName: result.trainingJobName! }));
    expect(job.TrainingJobStatus).toBe('Completed');
    expect((job.FinalMetricDataList ?? []).map((m) => m.MetricName)).toEqual(expect.arrayContaining(['validation:deviance', 'validation:gini']));
    const logFile = /Log at (\S+)$/.exec(result.logs.training ?? '')?.[1];
    expect(logFile).toBeDefined();
    expect(readFileSync(logFile!, 'utf8')).toMatch(/isolation: docker/);
    const described = await e.sagemakerClient.send(new DescribeModelCommand({ ModelName: result.resourcesCreated.find((r) => r.kind === 'model')?.name }));
    expect(described.PrimaryContainer?.Image).toBe(result.imageUri);

    const answer = await invokeExample(e.runtimeClient, `e2e-${name}`);
    expect(answer.model_id).toMatch(/^claims-severity-r-/);
    expect(answer.predictions).toHaveLength(1);
    const [scored] = answer.predictions;
    expect(scored!.prediction).toBeGreaterThan(0);
    expect(Object.keys(scored!.risk_terms)).toEqual(['base', 'driver_age', 'vehicle_age', 'vehicle_value', 'annual_mileage', 'region_east', 'region_north', 'region_west']);
    const sum = Object.values(scored!.risk_terms).reduce((acc, v) => acc + v, 0);
    expect(Math.abs(sum - Math.log(scored!.prediction))).toBeLessThan(1e-9);
  }, 180_000);
});
