// The Docker tags of the images in the control plane's store (`champ.local/...`,
// made by the build stage when an engine answers) go once nothing of this
// plane uses them: DeleteModel asks, never by force (removeLocalTags keeps a
// tag any container was made from), and never while the image was named by a
// model or job of this plane made in the last `graceMs`: another run of the
// same content is then likely between its build and its CreateTrainingJob.
// (Docker's own image date cannot tell: a rebuild from its cache keeps the old
// one.) A run that finds the tag gone builds it again.
import { removeLocalTags, type TagDocker } from '../artifacts/local-tags';
import { parseLocalImageUri, resolveLocalImage } from '../artifacts/image-store';
import type { ApiContext } from './api/common';
import { isObject } from './api/common';
import { modelContainer } from './api/models';
import { docker } from './containers/docker';
import type { Json } from './state';

/** Activity this recent keeps a tag (see above). */
export const DEFAULT_TAG_GRACE_MS = 15 * 60 * 1000;

export interface ImageTagPolicy {
  /** The image store whose snapshots this plane runs: only their tags are its to remove. */
  store: string;
  graceMs: number;
  docker: TagDocker;
}

/** The engine through the containers' docker helper. */
export const engineDocker: TagDocker = {
  run: async (args, options) => {
    const r = await docker([...args], options?.timeoutMs);
    return { code: r.code ?? -1, output: `${r.stdout}${r.stderr}` };
  },
};

const ACTIVE_JOB = new Set(['InProgress', 'Stopping']);

/** Whether a model, an endpoint (serving or about to), or a job still running of this plane names the image. */
export function imageInUse(ctx: ApiContext, uri: string): boolean {
  const d = ctx.state.data;
  if (Object.values(d.models).some((m) => modelContainer(m).image === uri || (Array.isArray(m.describe.Containers) && m.describe.Containers.some((c) => isObject(c) && c.Image === uri)))) {
    return true;
  }
  if (Object.values(d.endpoints).some((e) => [...(e.variants ?? []), ...(e.pendingVariants ?? [])].some((v) => v.imageUri === uri))) return true;
  const image = (spec: Json | undefined, field: string): Json | undefined => (isObject(spec) ? spec[field] : undefined);
  if (Object.values(d.trainingJobs).some((j) => ACTIVE_JOB.has(j.describe.TrainingJobStatus) && image(j.describe.AlgorithmSpecification, 'TrainingImage') === uri)) return true;
  return Object.values(d.processingJobs ?? {}).some((j) => ACTIVE_JOB.has(String(j.describe.ProcessingJobStatus)) && image(j.describe.AppSpecification, 'ImageUri') === uri);
}

/** When a model or job of this plane last named the image (epoch seconds), `since` included. */
function lastNamed(ctx: ApiContext, uri: string, since: number): number {
  const d = ctx.state.data;
  const times = [since];
  for (const m of Object.values(d.models)) if (modelContainer(m).image === uri) times.push(m.describe.CreationTime);
  for (const j of Object.values(d.trainingJobs)) {
    const spec = j.describe.AlgorithmSpecification;
    if (isObject(spec) && spec.TrainingImage === uri) times.push(j.describe.CreationTime);
  }
  return Math.max(...times);
}

/**
 * Removes `uri`'s Docker tag when this plane owns it (its snapshot is in the
 * store) and nothing uses it or named it lately; `since` is when the deleted
 * model was made. Says what it did in the plane's log.
 */
export async function releaseImageTag(ctx: ApiContext, policy: ImageTagPolicy, uri: string, since: number): Promise<void> {
  let local;
  try {
    local = parseLocalImageUri(uri);
  } catch {
    return;
  }
  if (!local || !(await resolveLocalImage(uri, policy.store))) return;
  if (imageInUse(ctx, uri)) return;
  if (Date.now() - lastNamed(ctx, uri, since) * 1000 < policy.graceMs) return;
  const r = await removeLocalTags(policy.docker, [uri]);
  if (r.removed.length > 0) ctx.log(`removed the Docker tag ${uri}: no model, endpoint or running job uses it`);
}
