// What the activity factory needs. The worker builds it once; tests inject fakes.
import type { Logger } from '@temporalio/common';
import type { AwsClients } from '../aws/clients';
import type { ObjectStore } from '../aws/objects';
import type { DockerRunner } from './docker';

/** The control plane's CHAMP_LOCAL_ISOLATION: which way local containers run, so local builds build what they will run. */
export type LocalIsolation = 'auto' | 'docker' | 'namespace' | 'env';

export interface ActivityDeps {
  clients: AwsClients;
  /** Used only outside an activity context; inside one, Context.current().log is used. */
  log?: Logger;
  /** Local image store root; defaults to defaultImageStore() ($CHAMP_IMAGE_STORE or ./.champ/images). */
  imageStore?: string;
  /** Defaults to the real docker client (spawned, no shell). */
  docker?: DockerRunner;
  /** Defaults to s3:// through clients.s3 and file:// from disk. */
  objects?: ObjectStore;
  /** Folder a relative image.context is resolved against; defaults to the worker's working directory. */
  contextRoot?: string;
  /** Injected clock (training seconds when SageMaker omits them). */
  now?: () => Date;
  /** Local mode only. `auto` (the default): a Docker image too when an engine answers; `docker`: always; `namespace`/`env`: never. */
  localIsolation?: LocalIsolation;
  /** How long `docker info` may take before the engine counts as absent. Default 15 s. */
  dockerInfoTimeoutMs?: number;
}
