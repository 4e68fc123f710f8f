// buildImage: build and push a pipeline's image, and nothing else. The image is
// tagged by the content hash of its build context, so a second run over the
// same content finds it and skips the build.
import * as wf from '@temporalio/workflow';
import type { BuildImageResult, ControlActivities } from '../activities/types';
import type { PipelineSpec } from '../spec/schema';
import { CONTROL_OPTIONS, pollIntervals, specActivities } from './options';

export interface ImageBuildInput {
  /** The pipeline whose `image` section is built (a prebuilt `image.uri` is only reported). */
  spec: PipelineSpec;
  requestedBy?: string;
}

export interface ImageBuildResult {
  /** `built`: a new image; `skipped-exists`: that exact content was built before; `prebuilt`: the spec names an image URI. */
  outcome: 'built' | 'skipped-exists' | 'prebuilt';
  pipeline: string;
  imageUri: string;
  /** The build context's content hash the tag derives from; empty for a prebuilt URI. */
  contentHash: string;
  reason: string;
}

export interface ImageBuildStatus {
  stage: 'starting' | 'validating' | 'building' | 'done';
  pipeline: string;
  requestedBy?: string;
  result?: ImageBuildResult;
}

export const imageBuildStatusQuery = wf.defineQuery<ImageBuildStatus>('status');

export async function buildImage(input: ImageBuildInput): Promise<ImageBuildResult> {
  const status: ImageBuildStatus = { stage: 'starting', pipeline: typeof input?.spec?.name === 'string' ? input.spec.name : '', requestedBy: input?.requestedBy };
  wf.setHandler(imageBuildStatusQuery, () => status);
  const control = wf.proxyActivities<ControlActivities>(CONTROL_OPTIONS);
  status.stage = 'validating';
  const { spec, suggestedPoll } = await control.validateSpec({ spec: input?.spec });
  status.pipeline = spec.name;
  status.stage = 'building';
  const image: BuildImageResult = await specActivities(spec, pollIntervals(undefined, suggestedPoll)).builds.buildImage({ pipeline: spec.name, image: spec.image });
  const result: ImageBuildResult = {
    outcome: image.contentHash === '' ? 'prebuilt' : image.built ? 'built' : 'skipped-exists',
    pipeline: spec.name,
    imageUri: image.imageUri,
    contentHash: image.contentHash,
    reason:
      image.contentHash === ''
        ? 'the spec names a prebuilt image (image.uri): nothing to build'
        : image.built
          ? `built ${image.imageUri} from content ${image.contentHash}`
          : `${image.imageUri} already exists for content ${image.contentHash}: build skipped`,
  };
  status.stage = 'done';
  status.result = result;
  return result;
}
