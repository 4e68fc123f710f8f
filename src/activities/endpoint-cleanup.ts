// Cleanup of old versions: a pipeline's endpoint configs and models beyond the
// newest `keep`, sparing whatever any endpoint in the account runs or is moving to.
// It cannot know what a concurrent run of the pipeline is about to deploy or
// may roll back to (no in-flight list reaches an activity, and creation order
// is not deploy order), so it may delete such a config. That run then makes it
// again under the same name: deployEndpoint and rollbackEndpoint carry a
// ConfigRecipe (types.ts) of the config they put on the endpoint, recorded in
// the run's history (its own from its spec; the replaced one read back when
// the update replaced it, only for the pipeline's own configs).
import { DescribeEndpointConfigCommand, paginateListEndpointConfigs, paginateListEndpoints, paginateListModels } from '@aws-sdk/client-sagemaker';
import { awsCallOr, describeIfPresent, hasErrorCode } from '../aws/errors';
import { isOwnedName, ownedPrefix } from '../aws/naming';
import { collectPages, PAGE_SIZE } from '../aws/requests';
import { activityEnv } from './context';
import type { ActivityDeps } from './deps';
import { configsOf, deleteEndpointConfig, deleteModel, findEndpoint } from './endpoint-calls';
import type { CleanupInput, CleanupResult } from './types';

interface Named {
  name: string;
  created: number;
}

function named(name: string | undefined, created: Date | undefined): Named[] {
  return name ? [{ name, created: created?.getTime() ?? 0 }] : [];
}

/** NameContains matches anywhere, and another pipeline's name may start with ours. Newest first. */
function owned(pipeline: string, step: 'config' | 'model', all: Named[]): Named[] {
  return all.filter((r) => isOwnedName(pipeline, r.name, step)).sort((a, b) => b.created - a.created || (a.name < b.name ? 1 : -1));
}

/** The local control plane may lack a List* operation; then nothing can be known to be unused. */
const unsupported = (err: unknown): boolean => hasErrorCode(err, 'UnknownOperationException');

const nothing = (): CleanupResult => ({ deletedConfigs: [], deletedModels: [] });

export function createCleanupActivities(deps: ActivityDeps) {
  const sm = deps.clients.sagemaker;
  const pages = { client: sm, pageSize: PAGE_SIZE };

  async function ownedVersions(pipeline: string): Promise<{ configs: Named[]; models: Named[] }> {
    const query = () => ({ NameContains: ownedPrefix(pipeline), SortBy: 'CreationTime', SortOrder: 'Descending' }) as const;
    const configs = await collectPages(paginateListEndpointConfigs(pages, query()), (p) => p.EndpointConfigs?.flatMap((c) => named(c.EndpointConfigName, c.CreationTime)));
    const models = await collectPages(paginateListModels(pages, query()), (p) => p.Models?.flatMap((m) => named(m.ModelName, m.CreationTime)));
    return { configs: owned(pipeline, 'config', configs), models: owned(pipeline, 'model', models) };
  }

  async function modelsOf(configName: string): Promise<string[]> {
    const d = await describeIfPresent({ operation: 'DescribeEndpointConfig', resource: `endpoint config ${configName}` }, () =>
      sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: configName })),
    );
    return (d?.ProductionVariants ?? []).map((v) => v.ModelName).filter((m): m is string => !!m);
  }

  /**
   * Every config any endpoint in the account runs or is moving to. A config
   * (and its model) may be in use by an endpoint other than the spec's: a
   * renamed deployment.endpointName, a staging endpoint, one made by hand.
   */
  async function configsInUse(): Promise<Set<string>> {
    const endpoints = await collectPages(paginateListEndpoints(pages, {}), (p) => p.Endpoints);
    const inUse = new Set<string>();
    for (const e of endpoints) {
      if (!e.EndpointName) continue;
      for (const c of configsOf(await findEndpoint(sm, e.EndpointName))) inUse.add(c);
    }
    return inUse;
  }

  async function cleanupOldVersions(input: CleanupInput): Promise<CleanupResult> {
    const env = activityEnv(deps.log);
    const keep = Math.max(1, input.keep);
    const resource = `pipeline ${input.pipeline}`;
    const versions = await awsCallOr({ operation: 'ListEndpointConfigs/ListModels', resource }, () => ownedVersions(input.pipeline), unsupported, undefined);
    if (!versions) {
      env.log.warn('the control plane cannot list endpoint configs or models; nothing cleaned up', { pipeline: input.pipeline });
      return nothing();
    }
    const { configs, models } = versions;
    if (configs.length === 0 && models.length === 0) return nothing();
    const inUse = await awsCallOr({ operation: 'ListEndpoints', resource }, configsInUse, unsupported, undefined);
    if (!inUse) {
      env.log.warn('the control plane cannot list endpoints; nothing cleaned up', { pipeline: input.pipeline });
      return nothing();
    }
    // The live config always stays and counts towards `keep`; the newest others fill the rest.
    const keptConfigs = new Set(configsOf(await findEndpoint(sm, input.endpointName)));
    for (const c of configs) {
      if (keptConfigs.size >= keep) break;
      keptConfigs.add(c.name);
    }
    // Configs any other endpoint uses stay too, but do not count towards keep.
    for (const c of inUse) keptConfigs.add(c);
    const keptModels = new Set<string>();
    for (const c of keptConfigs) for (const m of await modelsOf(c)) keptModels.add(m);
    // The newest models also stay, which spares a concurrent run's model whose config does not exist yet.
    for (const m of models.slice(0, keep)) keptModels.add(m.name);

    const deletedConfigs: string[] = [];
    for (const c of configs) {
      if (keptConfigs.has(c.name)) continue;
      await deleteEndpointConfig(sm, c.name);
      deletedConfigs.push(c.name);
    }
    const deletedModels: string[] = [];
    for (const m of models) {
      if (keptModels.has(m.name)) continue;
      await deleteModel(sm, m.name);
      deletedModels.push(m.name);
    }
    env.log.info('old versions cleaned up', { pipeline: input.pipeline, deletedConfigs: deletedConfigs.length, deletedModels: deletedModels.length });
    return { deletedConfigs, deletedModels };
  }

  return { cleanupOldVersions };
}
