// The claims-severity example driven as the control plane drives it: real
// python3 processes for generate, train and serve, SageMaker's folders given
// through the toolkit's SM_* variables, HTTP over loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const EXAMPLE = resolve(__dirname, '../../examples/claims-severity');
const PYTHON = 'python3';

// Exactly the regexes documented in examples/claims-severity/README.md.
const METRIC_REGEXES: Record<string, string> = {
  'train:deviance': 'train:deviance=([0-9.eE+-]+);',
  'train:gini': 'train:gini=([0-9.eE+-]+);',
  'validation:deviance': 'validation:deviance=([0-9.eE+-]+);',
  'validation:gini': 'validation:gini=([0-9.eE+-]+);',
};

// The README's stated recovery tolerance at 40,000 generated rows (32,000 for training),
// on the log scale: numeric terms per standard deviation of the feature.
const TOLERANCE = { numericPerSd: 0.05, indicator: 0.1, base: 0.05 };
const ROWS = 40_000;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Term {
  name: string;
  kind: 'numeric' | 'indicator';
  coef: number;
  center?: number;
  scale?: number;
}

interface ModelFile {
  model_id: string;
  base: number;
  intercept: number;
  terms: Term[];
}

interface Truth {
  intercept: number;
  coefficients: Record<string, number>;
}

interface Scored {
  prediction: number;
  risk_terms: Record<string, number>;
}

function runProcess(command: string, args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { env: { ...minimalEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

// The programs must not depend on whatever SM_* or SAGEMAKER_* the test runner inherited.
function minimalEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'LANG', 'TMPDIR', 'SYSTEMROOT']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

async function generate(out: string, rows: number, seed: number, drift = 0): Promise<Truth> {
  const r = await runProcess(PYTHON, [join(EXAMPLE, 'generate.py'), '--rows', String(rows), '--seed', String(seed), '--drift', String(drift), '--out', out], {});
  if (r.code !== 0) throw new Error(`generate.py exited ${r.code}: ${r.stderr}`);
  return JSON.parse(readFileSync(join(out, 'truth.json'), 'utf8')) as Truth;
}

/** A private stand-in for /opt/ml, addressed only through SM_* variables. */
function smEnv(root: string, data: string, hyperparameters: Record<string, string>): Record<string, string> {
  mkdirSync(join(root, 'input', 'config'), { recursive: true });
  writeFileSync(join(root, 'input', 'config', 'hyperparameters.json'), JSON.stringify(hyperparameters));
  return {
    SM_INPUT_DIR: join(root, 'input'),
    SM_MODEL_DIR: join(root, 'model'),
    SM_OUTPUT_DIR: join(root, 'output'),
    SM_OUTPUT_DATA_DIR: join(root, 'output', 'data'),
    SM_CHANNEL_TRAIN: join(data, 'train'),
    SM_CHANNEL_VALIDATION: join(data, 'validation'),
  };
}

function train(root: string, data: string, hyperparameters: Record<string, string>): Promise<Run> {
  return runProcess(join(EXAMPLE, 'program', 'train'), [], smEnv(root, data, hyperparameters));
}

function readModel(root: string): ModelFile {
  return JSON.parse(readFileSync(join(root, 'model', 'model.json'), 'utf8')) as ModelFile;
}

function metricValues(log: string, name: string): number[] {
  const re = new RegExp(METRIC_REGEXES[name], 'g');
  return [...log.matchAll(re)].map((m) => Number(m[1]));
}

/** |estimate - truth| on the log scale, per term, as the README states the tolerance. */
function recoveryErrors(model: ModelFile, truth: Truth): Array<{ name: string; error: number; limit: number }> {
  const out = model.terms.map((t) => {
    const expected = truth.coefficients[t.name];
    if (expected === undefined) throw new Error(`truth.json has no coefficient for model term ${t.name}`);
    const diff = Math.abs(t.coef - expected);
    return t.kind === 'numeric'
      ? { name: t.name, error: diff * (t.scale ?? NaN), limit: TOLERANCE.numericPerSd }
      : { name: t.name, error: diff, limit: TOLERANCE.indicator };
  });
  // base is the log mean at the training means: compare it with the truth evaluated there.
  const trueBase = model.terms.reduce(
    (acc, t) => (t.kind === 'numeric' ? acc + (truth.coefficients[t.name] ?? NaN) * (t.center ?? NaN) : acc),
    truth.intercept,
  );
  out.push({ name: 'base', error: Math.abs(model.base - trueBase), limit: TOLERANCE.base });
  return out;
}

interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function http(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<HttpReply> {
  return new Promise((resolvePromise, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false, timeout: 5_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

interface Server {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startServer(modelDir: string): Promise<Server> {
  const child = spawn(join(EXAMPLE, 'program', 'serve'), [], {
    env: { ...minimalEnv(), SM_MODEL_DIR: modelDir, SAGEMAKER_BIND_HOST: '127.0.0.1', SAGEMAKER_BIND_TO_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on('exit', (code, signal) => res({ code, signal })),
  );
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start within 10s:\n${output}`));
    }, 10_000);
    const onData = (d: Buffer): void => {
      output += d.toString();
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ child, port: Number(m[1]), output: () => output, exited });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before listening:\n${output}`));
    });
  });
}

function expectTermsSumToLogPrediction(rows: Scored[]): void {
  for (const row of rows) {
    expect(row.prediction).toBeGreaterThan(0);
    expect(typeof row.risk_terms.base).toBe('number');
    const sum = Object.values(row.risk_terms).reduce((a, b) => a + b, 0);
    expect(Math.abs(sum - Math.log(row.prediction))).toBeLessThan(1e-9);
  }
}

describe('claims-severity example (python3 processes)', () => {
  let work: string;
  let data: string;
  let truth: Truth;
  let trained: Run;
  const trainRoot = (): string => join(work, 'ml');

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'claims-severity-'));
    data = join(work, 'data');
    truth = await generate(data, ROWS, 7);
    trained = await train(trainRoot(), data, { power: '1.5', max_iter: '50', tol: '1e-8', l2: '0.0001' });
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('training through SM_* variables writes model.json and prints every documented metric once, readable by its regex', () => {
    expect(trained.stderr).toBe('');
    expect(trained.code).toBe(0);
    expect(existsSync(join(trainRoot(), 'model', 'model.json'))).toBe(true);
    expect(existsSync(join(trainRoot(), 'output', 'failure'))).toBe(false);
    for (const name of Object.keys(METRIC_REGEXES)) {
      const values = metricValues(trained.stdout, name);
      expect({ name, count: values.length }).toEqual({ name, count: 1 });
      expect(Number.isFinite(values[0])).toBe(true);
    }
    // A model that ranks risk at all has a clearly positive Gini on held-out data.
    expect(metricValues(trained.stdout, 'validation:gini')[0]).toBeGreaterThan(0.1);
    expect(trained.stdout).toMatch(/irls iteration=1 /);
  });

  test('the fitted coefficients recover the generator truth within the stated tolerance', () => {
    const errors = recoveryErrors(readModel(trainRoot()), truth);
    expect(errors.map((e) => e.name).sort()).toEqual(
      ['annual_mileage', 'base', 'driver_age', 'region_east', 'region_north', 'region_west', 'vehicle_age', 'vehicle_value'],
    );
    const outside = errors.filter((e) => !(e.error <= e.limit));
    expect(outside).toEqual([]);
  });

  test('a bad hyperparameter fails the run: non-zero exit, no model, and the failure file names the hyperparameter', async () => {
    const root = join(work, 'bad-hp');
    const r = await train(root, data, { power: 'abc' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Traceback/);
    const failure = readFileSync(join(root, 'output', 'failure'), 'utf8');
    expect(failure).toMatch(/hyperparameter 'power'/);
    expect(failure).toMatch(/'abc'/);
    expect(existsSync(join(root, 'model', 'model.json'))).toBe(false);
  });

  test('an out-of-range power and a misspelt name are both reported in one failure', async () => {
    const root = join(work, 'bad-hp-2');
    const r = await train(root, data, { power: '2', pwer: '1.5', sagemaker_region: 'ignored' });
    expect(r.code).not.toBe(0);
    const failure = readFileSync(join(root, 'output', 'failure'), 'utf8');
    expect(failure).toMatch(/hyperparameter 'power' must be a number strictly between 1 and 2.*got '2'/);
    expect(failure).toMatch(/unknown hyperparameter 'pwer'/);
    expect(failure).not.toMatch(/sagemaker_region/);
  });

  test('drift changes the generated data, and a retrain moves the coefficients to the drifted truth', async () => {
    const drifted = join(work, 'drifted');
    const driftTruth = await generate(drifted, ROWS, 7, 1.0);
    expect(readFileSync(join(drifted, 'train', 'train.csv'), 'utf8')).not.toEqual(readFileSync(join(data, 'train', 'train.csv'), 'utf8'));
    expect(driftTruth.coefficients.region_west).not.toBeCloseTo(truth.coefficients.region_west, 1);

    const root = join(work, 'drift-ml');
    const r = await train(root, drifted, {});
    expect(r.code).toBe(0);
    const model = readModel(root);
    expect(model.model_id).not.toEqual(readModel(trainRoot()).model_id);
    expect(recoveryErrors(model, driftTruth).filter((e) => !(e.error <= e.limit))).toEqual([]);
  });

  test('the generator gives byte-identical files for the same seed', async () => {
    const a = join(work, 'same-a');
    const b = join(work, 'same-b');
    await generate(a, 500, 11);
    await generate(b, 500, 11);
    for (const file of ['train/train.csv', 'validation/validation.csv', 'truth.json']) {
      expect(readFileSync(join(a, file), 'utf8')).toEqual(readFileSync(join(b, file), 'utf8'));
    }
  });

  describe('serve', () => {
    let server: Server | undefined;

    beforeAll(async () => {
      server = await startServer(join(trainRoot(), 'model'));
    });

    afterAll(async () => {
      if (server && server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill('SIGKILL');
        await server.exited;
      }
    });

    const port = (): number => {
      if (!server) throw new Error('server not started');
      return server.port;
    };

    test('GET /ping answers 200 once the model is loaded', async () => {
      const r = await http(port(), 'GET', '/ping');
      expect(r.status).toBe(200);
    });

    test('CSV with a header (the validation file itself) scores every row; risk terms plus base sum to log(prediction)', async () => {
      const csv = readFileSync(join(data, 'validation', 'validation.csv'), 'utf8').split('\n').slice(0, 6).join('\n');
      const r = await http(port(), 'POST', '/invocations', { 'Content-Type': 'text/csv' }, csv);
      expect(r.status).toBe(200);
      const body = JSON.parse(r.body) as { model_id: string; predictions: Scored[] };
      expect(body.model_id).toBe(readModel(trainRoot()).model_id);
      expect(body.predictions).toHaveLength(5);
      expectTermsSumToLogPrediction(body.predictions);
    });

    test('headerless CSV and JSON instances of the same policy get the same prediction', async () => {
      const csv = await http(port(), 'POST', '/invocations', { 'Content-Type': 'text/csv' }, '35,4,20.2,14.3,east\n23,1,41.0,22.5,west,0.5\n');
      const json = await http(port(), 'POST', '/invocations', { 'Content-Type': 'application/json; charset=utf-8' }, JSON.stringify({
        instances: [
          { driver_age: 35, vehicle_age: 4, vehicle_value: 20.2, annual_mileage: 14.3, region: 'east' },
          { driver_age: '23', vehicle_age: 1, vehicle_value: 41, annual_mileage: 22.5, region: 'west', exposure: 0.5 },
        ],
      }));
      expect([csv.status, json.status]).toEqual([200, 200]);
      const a = (JSON.parse(csv.body) as { predictions: Scored[] }).predictions;
      const b = (JSON.parse(json.body) as { predictions: Scored[] }).predictions;
      expectTermsSumToLogPrediction([...a, ...b]);
      expect(b.map((p) => p.prediction)).toEqual(a.map((p) => p.prediction));
      expect(a[1].risk_terms.log_exposure).toBeCloseTo(Math.log(0.5), 12);
      expect(a[0].risk_terms.region_east).not.toBe(0);
    });

    test('unsupported content type is refused with 415', async () => {
      const r = await http(port(), 'POST', '/invocations', { 'Content-Type': 'application/xml' }, '<policy/>');
      expect(r.status).toBe(415);
      expect(r.body).toMatch(/text\/csv/);
    });

    test('a malformed row is refused with 400 naming the row and the field', async () => {
      const r = await http(port(), 'POST', '/invocations', { 'Content-Type': 'text/csv' }, '35,4,20.2,14.3,east\n35,old,20.2,14.3,east\n');
      expect(r.status).toBe(400);
      expect((JSON.parse(r.body) as { error: string }).error).toMatch(/row 2: vehicle_age/);
    });

    test('SIGTERM stops the server promptly with exit code 0 after logging one line per request', async () => {
      const s = server;
      if (!s) throw new Error('server not started');
      s.child.kill('SIGTERM');
      const started = Date.now();
      const result = await s.exited;
      expect(result).toEqual({ code: 0, signal: null });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(s.output()).toMatch(/GET \/ping 200/);
      expect(s.output()).toMatch(/POST \/invocations 415/);
    });
  });
});
