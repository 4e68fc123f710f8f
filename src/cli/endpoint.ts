// `champ endpoint ...`: the endpoint entities (src/workflows/endpoint/), one
// workflow per endpoint: list them, show one's status and log, roll it back,
// freeze and unfreeze it.
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { InvalidArgumentError, type Command } from 'commander';
import { isLoopbackUrl } from '../aws/clients';
import type { Config } from '../config';
import { SAGEMAKER_NAME } from '../spec/schema';
import {
  endpointHistoryQuery,
  endpointStatusQuery,
  ENDPOINT_WORKFLOW,
  freezeUpdate,
  rollbackUpdate,
  unfreezeUpdate,
  type EndpointEntityStatus,
  type EndpointLogEntry,
  type endpointWorkflow,
} from '../workflows';
import { endpointEntityId, endpointScope, ENDPOINT_ID_PREFIX } from '../workflows/endpoint/messages';
import { CliError, EXIT, firstLine, formatTable, withClient, type CliIO } from './common';

type EntityHandle = WorkflowHandle<typeof endpointWorkflow>;

/** An endpoint name as SageMaker allows it, or an entity's workflow id. */
function endpointArg(value: string): string {
  if (value.startsWith(ENDPOINT_ID_PREFIX) || (SAGEMAKER_NAME.test(value) && value.length <= 63)) return value;
  throw new InvalidArgumentError(`"${value}" is no endpoint name (letters, digits and hyphens, at most 63) nor an entity id (${ENDPOINT_ID_PREFIX}<scope>/<endpoint>)`);
}

function nonBlank(flag: string) {
  return (value: string): string => {
    if (value.trim() === '') throw new InvalidArgumentError(`${flag} must not be blank`);
    return value;
  };
}

/** Where the client's settings point (AWS_REGION, AWS_ENDPOINT_URL_SAGEMAKER): the scope the worker uses for the same endpoint. */
export function configScope(config: Pick<Config, 'AWS_REGION' | 'AWS_ENDPOINT_URL_SAGEMAKER'>): string {
  const url = config.AWS_ENDPOINT_URL_SAGEMAKER;
  return endpointScope({ local: isLoopbackUrl(url), region: config.AWS_REGION, ...(url ? { sagemakerEndpoint: url } : {}) });
}

function entityIdOf(nameOrId: string, config: Config): string {
  return nameOrId.startsWith(ENDPOINT_ID_PREFIX) ? nameOrId : endpointEntityId(configScope(config), nameOrId);
}

/** Runs `fn` on the entity, turning "no such workflow" and refused updates into one line. */
async function onEntity<T>(id: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new CliError(`no endpoint entity ${id}: nothing was deployed to it through champ yet (champ endpoint list shows them; AWS_REGION and AWS_ENDPOINT_URL_SAGEMAKER choose the scope)`);
    }
    if (err instanceof WorkflowUpdateFailedError) throw new CliError(`${id} refused: ${firstLine(err.cause ?? err)}`, EXIT.usage);
    throw err;
  }
}

function when(iso: string | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';
}

function describeEntry(e: EndpointLogEntry): string {
  const version = e.modelVersion !== undefined ? ` v${e.modelVersion}` : '';
  return `${e.kind} ${e.requestId}: ${e.endpointConfig}${version} (${e.pipeline}), asked by ${e.requestedBy}${e.approvedBy ? `, approved by ${e.approvedBy}` : ''}`;
}

export function formatEndpointStatus(s: EndpointEntityStatus): string[] {
  const lines = [`endpoint ${s.endpointName} (${s.entityId}, run ${s.run}, ${s.requests} requests so far)`];
  lines.push(s.frozen ? `  frozen since ${when(s.frozen.at)} by ${s.frozen.by}: ${s.frozen.reason}` : '  accepting deployments');
  lines.push(`  serving: ${s.lastGood ? describeEntry(s.lastGood) : '(nothing verified yet)'}`);
  lines.push(`  running: ${s.current ? describeEntry(s.current) : '-'}`);
  lines.push(`  queue: ${s.queue.length === 0 ? 'empty' : ''}`);
  for (const q of s.queue) lines.push(`    ${describeEntry(q)} since ${when(q.enqueuedAt)}`);
  return lines;
}

export function historyRows(entries: EndpointLogEntry[]): string[] {
  const rows = entries.map((e) => [
    String(e.seq),
    e.kind,
    e.outcome ?? '-',
    e.endpointConfig,
    e.modelVersion !== undefined ? String(e.modelVersion) : '-',
    e.requestedBy,
    e.approvedBy ?? '-',
    when(e.startedAt),
    when(e.endedAt),
  ]);
  return formatTable(['SEQ', 'KIND', 'OUTCOME', 'CONFIG', 'VERSION', 'REQUESTED BY', 'APPROVED BY', 'STARTED', 'ENDED'], rows);
}

/** Polls the log until the request ended (a rollback runs after what is ahead of it). */
async function awaitRequest(handle: EntityHandle, requestId: string, timeoutMs: number): Promise<EndpointLogEntry> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const entry = (await handle.query(endpointHistoryQuery)).find((e) => e.requestId === requestId);
    if (entry?.outcome) return entry;
    if (Date.now() > deadline) throw new CliError(`${requestId} did not end within ${timeoutMs / 1000} s; champ endpoint status ${handle.workflowId} shows where it is`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function user(io: CliIO): string {
  return io.env.USER ?? io.env.USERNAME ?? 'champ-cli';
}

export function addEndpointCommands(program: Command, io: CliIO): void {
  const endpoint = program.command('endpoint').description('the endpoint entities, one workflow per endpoint: list, status, history, rollback, freeze, unfreeze');
  const handleOf = (client: Client, cfg: Config, nameOrId: string): EntityHandle => client.workflow.getHandle<typeof endpointWorkflow>(entityIdOf(nameOrId, cfg));

  endpoint
    .command('list')
    .description(`list the running endpoint entities (${ENDPOINT_ID_PREFIX}*)`)
    .action(async () => {
      await withClient(io, async (client) => {
        const rows: string[][] = [];
        for await (const wf of client.workflow.list({ query: `WorkflowType = '${ENDPOINT_WORKFLOW}' AND ExecutionStatus = 'Running'` })) {
          const s = await client.workflow.getHandle<typeof endpointWorkflow>(wf.workflowId).query(endpointStatusQuery).catch(() => undefined);
          rows.push([wf.workflowId, s?.lastGood?.endpointConfig ?? '-', s ? String(s.queue.length + (s.current ? 1 : 0)) : '?', s?.frozen ? `yes (${s.frozen.by})` : 'no']);
        }
        if (rows.length === 0) {
          io.out('no endpoint entities yet: a pipeline that deploys starts its endpoint\'s');
          return;
        }
        rows.sort((a, b) => a[0]!.localeCompare(b[0]!));
        for (const line of formatTable(['ENTITY ID', 'SERVING', 'IN LINE', 'FROZEN'], rows)) io.out(line);
      });
    });

  endpoint
    .command('status')
    .argument('<endpoint>', 'endpoint name (or entity id)', endpointArg)
    .option('--json', 'print the status as JSON')
    .description('what serves, what runs now, what waits, and whether the endpoint is frozen')
    .action(async (name: string, opts: { json?: boolean }) => {
      await withClient(io, async (client, cfg) => {
        const handle = handleOf(client, cfg, name);
        const status = await onEntity(handle.workflowId, () => handle.query(endpointStatusQuery));
        if (opts.json) io.out(JSON.stringify(status, null, 2));
        else for (const line of formatEndpointStatus(status)) io.out(line);
      });
    });

  endpoint
    .command('history')
    .argument('<endpoint>', 'endpoint name (or entity id)', endpointArg)
    .option('--json', 'print the log as JSON')
    .description('what served when: each request, its model, who asked and approved, and how it ended')
    .action(async (name: string, opts: { json?: boolean }) => {
      await withClient(io, async (client, cfg) => {
        const handle = handleOf(client, cfg, name);
        const entries = await onEntity(handle.workflowId, () => handle.query(endpointHistoryQuery));
        if (opts.json) io.out(JSON.stringify(entries, null, 2));
        else if (entries.length === 0) io.out(`no deployments to ${name} yet`);
        else for (const line of historyRows(entries)) io.out(line);
      });
    });

  endpoint
    .command('rollback')
    .argument('<endpoint>', 'endpoint name (or entity id)', endpointArg)
    .option('--to <request|config>', 'a request id or endpoint config from the history (default: the previous good deployment)', nonBlank('--to'))
    .option('--by <name>', 'who rolls back (default: $USER)', nonBlank('--by'))
    .option('--reason <text>', 'why', nonBlank('--reason'))
    .option('--no-wait', 'return once the rollback is queued')
    .option('--timeout <seconds>', 'how long to wait for it', (v) => Number(v), 600)
    .description('put back the previous good deployment (or a named one): deployed with its guardrails, verified, in line with other requests')
    .action(async (name: string, opts: { to?: string; by?: string; reason?: string; wait: boolean; timeout: number }) => {
      await withClient(io, async (client, cfg) => {
        const handle = handleOf(client, cfg, name);
        const accepted = await onEntity(handle.workflowId, () =>
          handle.executeUpdate(rollbackUpdate, { args: [{ by: opts.by ?? user(io), ...(opts.to ? { to: opts.to } : {}), ...(opts.reason ? { reason: opts.reason } : {}) }] }),
        );
        io.out(`rollback ${accepted.requestId} queued on ${accepted.entityId}${accepted.ahead > 0 ? ` behind ${accepted.ahead}` : ''}`);
        if (!opts.wait) return;
        const entry = await awaitRequest(handle, accepted.requestId, opts.timeout * 1000);
        io.out(`${accepted.requestId}: ${entry.outcome}${entry.reason ? ` (${entry.reason})` : ''}; ${entry.endpointConfig} ${entry.outcome === 'deployed' ? 'serves' : 'does not serve'}`);
        if (entry.outcome !== 'deployed') throw new CliError(`rollback ended ${entry.outcome}`, EXIT.notDeployed);
      });
    });

  endpoint
    .command('freeze')
    .argument('<endpoint>', 'endpoint name (or entity id)', endpointArg)
    .requiredOption('--reason <text>', 'why (an incident, a release window)', nonBlank('--reason'))
    .option('--by <name>', 'who freezes (default: $USER)', nonBlank('--by'))
    .description('refuse deployments until unfrozen: requests wait, or end endpoint-frozen when their spec says deployment.whenFrozen: fail; rollbacks still run')
    .action(async (name: string, opts: { reason: string; by?: string }) => {
      await withClient(io, async (client, cfg) => {
        const handle = handleOf(client, cfg, name);
        const s = await onEntity(handle.workflowId, () => handle.executeUpdate(freezeUpdate, { args: [{ by: opts.by ?? user(io), reason: opts.reason }] }));
        io.out(`froze ${s.entityId}; ${s.queue.length} waiting`);
      });
    });

  endpoint
    .command('unfreeze')
    .argument('<endpoint>', 'endpoint name (or entity id)', endpointArg)
    .option('--by <name>', 'who unfreezes (default: $USER)', nonBlank('--by'))
    .option('--reason <text>', 'why', nonBlank('--reason'))
    .description('accept deployments again: the waiting ones run in order')
    .action(async (name: string, opts: { by?: string; reason?: string }) => {
      await withClient(io, async (client, cfg) => {
        const handle = handleOf(client, cfg, name);
        const s = await onEntity(handle.workflowId, () => handle.executeUpdate(unfreezeUpdate, { args: [{ by: opts.by ?? user(io), ...(opts.reason ? { reason: opts.reason } : {}) }] }));
        io.out(`unfroze ${s.entityId}; ${s.queue.length} waiting`);
      });
    });
}
