// `champ validate --target aws`: what AWS would refuse, found before anything
// is built or started, each naming the field and the fix.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { runCli } from '../../src/client';
import { parseSpec } from '../../src/spec';
import { awsTargetIssues } from '../../src/spec/targets';

const EXAMPLE = resolve(__dirname, '../../examples/claims-severity/pipeline.yaml');
const ROLE = 'arn:aws:iam::111122223333:role/champ-sagemaker-execution';

interface Spec {
  training: { inputs: Array<{ name: string; uri: string }>; outputPath: string; roleArn?: string; instanceType?: string };
  deployment: { instanceType?: string };
  [key: string]: unknown;
}

function exampleDoc(): Spec {
  const doc = parseYaml(readFileSync(EXAMPLE, 'utf8')) as Spec;
  // Written elsewhere than the example's folder: its context given absolute.
  doc.image = { ...(doc.image as object), context: dirname(EXAMPLE) };
  return doc;
}

/** The example made ready for AWS: s3:// data and output, a real-looking role. */
function awsReadyDoc(): Spec {
  const doc = exampleDoc();
  doc.training.inputs = doc.training.inputs.map((c) => ({ ...c, uri: `s3://claims-data-111122223333/claims/${c.name}/` }));
  doc.training.outputPath = 's3://claims-data-111122223333/artifacts/';
  doc.training.roleArn = ROLE;
  return doc;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'champ-target-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function validate(doc: Spec, target?: string) {
  const file = join(dir, `spec-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, toYaml(doc));
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['validate', file, ...(target ? ['--target', target] : [])], { out: (l) => out.push(l), err: (l) => err.push(l), env: {} });
  return { code, out, err: err.join('\n'), file };
}

describe('validate --target aws', () => {
  it('accepts a spec with s3:// locations, a real role and known instance types', async () => {
    const r = await validate(awsReadyDoc(), 'aws');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/valid pipeline "claims-severity" \(endpoint [^)]+\), ready for AWS$/);
  });

  it('the example as shipped is fine locally and refused for AWS, every problem at once', async () => {
    expect((await validate(exampleDoc())).code).toBe(0);
    const r = await validate(exampleDoc(), 'aws');
    expect(r.code).toBe(2);
    expect(r.err).toContain('not ready for AWS');
    expect(r.err).toContain('training.inputs[0].uri: SageMaker on AWS cannot read a file:// location');
    expect(r.err).toContain('aws s3 sync <folder> s3://<bucket>/<prefix>');
    expect(r.err).toContain('training.inputs[1].uri:');
    expect(r.err).toContain('training.outputPath: SageMaker on AWS cannot read a file:// location');
    expect(r.err).toContain('training.roleArn: is the local placeholder role (what a spec without roleArn gets)');
  });

  it.each([
    ['training.inputs[0].uri', (d: Spec) => (d.training.inputs[0].uri = 'file:///data/train'), 'cannot read a file:// location'],
    ['training.outputPath', (d: Spec) => (d.training.outputPath = 'file:///models'), 'name the S3 prefix the model artifact is written to'],
    ['training.roleArn', (d: Spec) => delete d.training.roleArn, 'give the ARN of the execution role SageMaker assumes in your account'],
    ['training.roleArn', (d: Spec) => (d.training.roleArn = 'arn:aws:iam::123456789012:role/example'), "example account 123456789012 of AWS's documentation"],
    ['training.instanceType', (d: Spec) => (d.training.instanceType = 'ml.m5.huge'), 'SageMaker has no training instance type "ml.m5.huge": give one it offers, e.g. ml.m5.'],
    ['deployment.instanceType', (d: Spec) => (d.deployment.instanceType = 'ml.zz9.large'), 'SageMaker has no hosting instance type "ml.zz9.large"'],
  ])('refuses %s (%#), naming the field and the fix, and only that', async (field, change, message) => {
    const doc = awsReadyDoc();
    change(doc);
    const issues = awsTargetIssues(parseSpec(doc));
    expect(issues.map((i) => i.path)).toEqual([field]);
    expect(issues[0]!.message).toContain(message);
    const r = await validate(doc, 'aws');
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${field}: `);
    // Locally the same spec is valid: only the AWS target refuses it.
    expect((await validate(doc)).code).toBe(0);
  });

  it('refuses an unknown target, listing the ones there are', async () => {
    const r = await validate(awsReadyDoc(), 'gcp');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--target <where>.*Allowed choices are local, aws/);
  });
});
