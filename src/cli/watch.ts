// `champ schedule runs <name>`: what a watching schedule's checks did (schedule.watch):
// each check, whether it started a pipeline run or skipped, and why.
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { WATCHER_WORKFLOW } from '../schedules';
import type { WatchResult } from '../workflows';
import { listLimit, pipelineName } from './arguments';
import { firstLine, formatTable, utc, withClient, type CliIO } from './common';

export async function watcherRuns(client: Client, pipeline: string, limit: number): Promise<string[][]> {
  const rows: string[][] = [];
  const query = `WorkflowType = '${WATCHER_WORKFLOW}' AND ChampPipeline = '${pipeline}'`;
  for await (const w of client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
    if (rows.length >= limit) break;
    let outcome = w.status.name === 'RUNNING' ? 'checking' : w.status.name.toLowerCase();
    let reason = '-';
    if (w.status.name === 'COMPLETED') {
      const result = (await client.workflow.getHandle(w.workflowId, w.runId).result().catch(() => undefined)) as WatchResult | undefined;
      if (result) ({ outcome, reason } = result);
    } else if (w.status.name === 'FAILED') {
      reason = await client.workflow.getHandle(w.workflowId, w.runId).result().then(() => '-', (err: unknown) => firstLine((err as { cause?: unknown }).cause ?? err));
    }
    rows.push([utc(w.startTime), w.workflowId, outcome, reason]);
  }
  return rows;
}

export function addWatchRunsCommand(schedule: Command, io: CliIO): void {
  schedule
    .command('runs')
    .argument('<name>', 'pipeline name', pipelineName)
    .option('--limit <n>', 'at most this many checks, newest first', listLimit, 20)
    .description("list a watching schedule's data checks (schedule.watch): the pipeline runs they started and the skips, with reasons")
    .action(async (name: string, opts: { limit: number }) => {
      await withClient(io, async (client) => {
        const rows = await watcherRuns(client, name, opts.limit);
        if (rows.length === 0) {
          io.out(`no data checks of ${name} yet: a spec with schedule.watch and "champ schedule apply" start them`);
          return;
        }
        for (const line of formatTable(['STARTED (UTC)', 'CHECK', 'OUTCOME', 'REASON'], rows)) io.out(line);
      });
    });
}
