// CPU and memory limits for a container, from its SageMaker instance type. The
// table is approximate on purpose: families by their memory per vCPU and sizes
// by their vCPU count, as AWS names them, clamped to what this machine has.
import { cpus, totalmem } from 'node:os';

export interface ResourceLimits {
  cpus: number;
  memoryBytes: number;
  /** How the numbers were found, for the container's log. */
  note: string;
}

const GIB = 1024 ** 3;

/** vCPUs of a size; "medium"/"small" as the t-family has them. */
const SIZE_VCPUS: Record<string, number> = { small: 1, medium: 2, large: 2, xlarge: 4 };

/** GiB per vCPU of a family's first letter(s) (m: general, c: compute, r/x: memory, t: burstable, g/p: GPU, inf/trn). */
const GIB_PER_VCPU: Array<[RegExp, number]> = [
  [/^(r|x|z)/, 8],
  [/^(c|t|inf|trn)/, 2],
  [/^(m|g|p)/, 4],
];

function vcpusOf(size: string): number | undefined {
  if (size in SIZE_VCPUS) return SIZE_VCPUS[size];
  const m = /^(\d+)xlarge$/.exec(size);
  return m ? Number(m[1]) * 4 : undefined;
}

/** The limits for `ml.<family>.<size>`, or undefined for a type this table does not know (no limits then). */
export function limitsForInstanceType(instanceType: string | undefined): ResourceLimits | undefined {
  const m = /^ml\.([a-z0-9-]+)\.([a-z0-9]+)$/.exec(instanceType ?? '');
  if (!m) return undefined;
  const family = m[1] as string;
  const vcpus = vcpusOf(m[2] as string);
  const perVcpu = GIB_PER_VCPU.find(([re]) => re.test(family))?.[1];
  if (vcpus === undefined || perVcpu === undefined) return undefined;
  const hostCpus = cpus().length || 1;
  const cpu = Math.min(vcpus, hostCpus);
  const memoryBytes = Math.min(vcpus * perVcpu * GIB, totalmem());
  return {
    cpus: cpu,
    memoryBytes,
    note: `${instanceType} ~ ${vcpus} vCPU, ${vcpus * perVcpu} GiB (approximate); limited to ${cpu} CPU, ${Math.round(memoryBytes / GIB)} GiB on this machine`,
  };
}
