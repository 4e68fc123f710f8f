// What a spec must hold to run on AWS rather than the local control plane,
// checked before anything is built, pushed or started: SageMaker reads only
// s3:// locations, assumes a real execution role, and knows a fixed set of
// instance types (the SDK's own lists, so a new type arrives with the SDK).
import { ProductionVariantInstanceType, TrainingInstanceType } from '@aws-sdk/client-sagemaker';
import type { SpecIssue } from './errors';
import type { PipelineSpec } from './schema';

export const TARGETS = ['local', 'aws'] as const;
export type Target = (typeof TARGETS)[number];

/** Accounts no real role lives in: the local control plane's and the one AWS's documentation uses in examples. */
const PLACEHOLDER_ACCOUNTS = new Set(['000000000000', '123456789012']);

const TRAINING_TYPES: ReadonlySet<string> = new Set(Object.values(TrainingInstanceType));
const HOSTING_TYPES: ReadonlySet<string> = new Set(Object.values(ProductionVariantInstanceType));

function accountOf(roleArn: string): string | undefined {
  return /^arn:aws[a-z-]*:iam::(\d{12}):role\//.exec(roleArn)?.[1];
}

/** Other types of the same family, to show beside an unknown one. */
function sameFamily(type: string, known: ReadonlySet<string>): string[] {
  const family = type.split('.').slice(0, 2).join('.') + '.';
  return [...known].filter((t) => t.startsWith(family)).sort().slice(0, 6);
}

function instanceTypeIssue(path: string, type: string, known: ReadonlySet<string>, what: string): SpecIssue | undefined {
  if (known.has(type)) return undefined;
  const family = sameFamily(type, known);
  return {
    path,
    message: `SageMaker has no ${what} instance type "${type}": give one it offers, e.g. ${family.length > 0 ? family.join(', ') : 'ml.m5.large, ml.c5.xlarge, ml.g5.xlarge'}`,
    found: type,
  };
}

function locationIssue(path: string, uri: string, what: string): SpecIssue | undefined {
  if (!uri.startsWith('file://')) return undefined;
  return {
    path,
    message: `SageMaker on AWS cannot read a file:// location (it is a folder on this machine): ${what}, and give its s3://<bucket>/<prefix>`,
    found: uri,
  };
}

/**
 * Everything in a (valid) spec that AWS would refuse, each naming the field
 * and the fix; empty when the spec can go to AWS. Read-only: makes no call.
 */
export function awsTargetIssues(spec: PipelineSpec): SpecIssue[] {
  const issues: Array<SpecIssue | undefined> = [];
  spec.training.inputs.forEach((channel, i) => {
    issues.push(locationIssue(`training.inputs[${i}].uri`, channel.uri, `upload the "${channel.name}" data to S3 (aws s3 sync <folder> s3://<bucket>/<prefix>)`));
  });
  issues.push(locationIssue('training.outputPath', spec.training.outputPath, 'name the S3 prefix the model artifact is written to'));

  const account = accountOf(spec.training.roleArn);
  if (account && PLACEHOLDER_ACCOUNTS.has(account)) {
    issues.push({
      path: 'training.roleArn',
      message:
        account === '000000000000'
          ? 'is the local placeholder role (what a spec without roleArn gets), which no AWS account holds: give the ARN of the execution role SageMaker assumes in your account, arn:aws:iam::<account>:role/<name>'
          : `is in the example account ${account} of AWS's documentation: give the ARN of the execution role SageMaker assumes in your account, arn:aws:iam::<account>:role/<name>`,
      found: spec.training.roleArn,
    });
  }

  issues.push(instanceTypeIssue('training.instanceType', spec.training.instanceType, TRAINING_TYPES, 'training'));
  issues.push(instanceTypeIssue('deployment.instanceType', spec.deployment.instanceType, HOSTING_TYPES, 'hosting'));
  return issues.filter((i): i is SpecIssue => i !== undefined);
}

/** The issues of `spec` for `target`: none for the local control plane, which accepts what the schema does. */
export function targetIssues(spec: PipelineSpec, target: Target): SpecIssue[] {
  return target === 'aws' ? awsTargetIssues(spec) : [];
}
