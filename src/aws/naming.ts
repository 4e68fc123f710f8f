// Deterministic resource names. A name derives from the pipeline, the
// workflow run and the step, so a retried activity finds what it already
// made. Pure: workflow code computes the names and records them in history.

/** FNV-1a, 32 bits, as 8 hex digits. Stable across platforms; not for security. */
export function fnv1a(text: string, seed = 0x811c9dc5): string {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** A 12-hex-digit key for one workflow run. */
export function runKey(workflowId: string, runId: string): string {
  const text = `${workflowId}/${runId}`;
  return (fnv1a(text) + fnv1a(text, 0x050c5d1f)).slice(0, 12);
}

export type ResourceStep = 'train' | 'model' | 'config';

/** `<pipeline>-<runKey>-<step>`: at most 32 + 1 + 12 + 1 + 6 = 52 characters, a valid SageMaker name. */
export function resourceName(pipeline: string, key: string, step: ResourceStep): string {
  return `${pipeline}-${key}-${step}`;
}

export interface PipelineResourceNames {
  trainingJob: string;
  model: string;
  endpointConfig: string;
  modelPackageGroup: string;
}

export function pipelineResourceNames(pipeline: string, workflowId: string, runId: string): PipelineResourceNames {
  const key = runKey(workflowId, runId);
  return {
    trainingJob: resourceName(pipeline, key, 'train'),
    model: resourceName(pipeline, key, 'model'),
    endpointConfig: resourceName(pipeline, key, 'config'),
    modelPackageGroup: pipeline,
  };
}

/** The prefix every pipeline-owned model and endpoint config name starts with. */
export function ownedPrefix(pipeline: string): string {
  return `${pipeline}-`;
}

/**
 * Whether `name` is this pipeline's `<pipeline>-<runKey>-<step>` name. A prefix
 * test is not enough: pipeline `claims` must not claim `claims-severity-...`.
 */
export function isOwnedName(pipeline: string, name: string, step: ResourceStep): boolean {
  const prefix = ownedPrefix(pipeline);
  if (!name.startsWith(prefix)) return false;
  return new RegExp(`^[A-Za-z0-9]+-${step}$`).test(name.slice(prefix.length));
}
