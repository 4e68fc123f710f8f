// The activity factory the worker registers. Each activity is a thin,
// idempotent step over the AWS SDK v3 clients in `deps.clients`.
import type { ActivityDeps } from './deps';
import { createEndpointActivities } from './endpoint';
import { clientsScope, createEntityActivities } from './endpoint-entity';
import { createImageActivities } from './image';
import { createRegistryActivities } from './registry';
import { validateSpec } from './spec';
import { createTrainingActivities } from './training';
import { createProcessingActivities } from './processing';
import { createTransformActivities } from './transform';
import type { PipelineActivities, ProcessingActivities, TransformActivities } from './types';

export function createActivities(deps: ActivityDeps): PipelineActivities & TransformActivities & ProcessingActivities {
  return {
    validateSpec: (input) => validateSpec(input, deps.clients.local),
    ...createImageActivities(deps),
    ...createTrainingActivities(deps),
    ...createTransformActivities(deps),
    ...createProcessingActivities(deps),
    ...createRegistryActivities(deps),
    ...createEndpointActivities(deps),
    ...createEntityActivities(() => clientsScope(deps.clients)),
  };
}

export type { ActivityDeps } from './deps';
export type { DockerRunner, DockerRunOptions, DockerResult } from './docker';
export { spawnDockerRunner } from './docker';
export { clientsScope, createEntityActivities } from './endpoint-entity';
export type * from './types';
