// `champ schedule ...`: pipelines on Temporal Schedules (see ../schedules.ts).
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleDescription, type ScheduleHandle } from '@temporalio/client';
import type { Command } from 'commander';
import { applySchedule, scheduleIdFor, SCHEDULE_ID_PREFIX } from '../schedules';
import { checkLocalInputs } from '../spec';
import type { PipelineInput } from '../workflows';
import { pipelineOrScheduleId, refuseNamedPipe } from './arguments';
import { CliError, EXIT, formatTable, loadSpecOrExplain, uiLink, utc, withClient, type CliIO } from './common';
import { addWatchRunsCommand } from './watch';

/** The cron (and zone) a schedule runs, from the spec its action carries: the server keeps only calendars. */
export function scheduleCron(desc: Pick<ScheduleDescription, 'action'>): string {
  const input = desc.action.args?.[0] as Partial<PipelineInput> | undefined;
  const schedule = input?.spec?.schedule;
  if (!schedule) return '-';
  return `${schedule.cron} (${schedule.timezone ?? 'UTC'})`;
}

function overlapName(desc: Pick<ScheduleDescription, 'policies'>): string {
  return (desc.policies.overlap ?? 'SKIP').toLowerCase().replace(/_/g, '-');
}

function noSuchSchedule(id: string): CliError {
  return new CliError(`no schedule "${id}" in this namespace; "champ schedule list" shows the schedules`);
}

/**
 * The schedule a pipeline name or schedule id names, described. "claims" and
 * "champ-claims" both name champ-claims; an id that starts with champ- is
 * tried as given first, so a pipeline called "champ-x" is still reachable.
 */
async function findSchedule(client: Client, nameOrId: string): Promise<{ handle: ScheduleHandle; desc: ScheduleDescription }> {
  const ids = [...new Set([...(nameOrId.startsWith(SCHEDULE_ID_PREFIX) ? [nameOrId] : []), scheduleIdFor(nameOrId)])];
  for (const id of ids) {
    const handle = client.schedule.getHandle(id);
    try {
      return { handle, desc: await handle.describe() };
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
  }
  throw noSuchSchedule(ids[ids.length - 1]!);
}

/** Runs `fn` on the schedule, turning "deleted meanwhile" into the same one line. */
async function onSchedule<T>(handle: ScheduleHandle, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw noSuchSchedule(handle.scheduleId);
    throw err;
  }
}

export function addScheduleCommands(program: Command, io: CliIO): void {
  const schedule = program
    .command('schedule')
    .description('run pipelines on Temporal Schedules (their spec\'s schedule section): apply, list, trigger, pause, unpause, delete');

  schedule
    .command('apply')
    .argument('<spec>', 'pipeline spec file with a schedule section')
    .description('create the pipeline\'s schedule (champ-<name>), or update it to match the spec; a paused schedule stays paused')
    .action(async (specPath: string) => {
      refuseNamedPipe(specPath);
      const { spec } = loadSpecOrExplain(specPath);
      if (!spec.schedule) {
        throw new CliError(`${specPath}: pipeline "${spec.name}" has no schedule section: add schedule.cron (e.g. "0 3 * * 1") to run it on a schedule`, EXIT.usage);
      }
      const { overlap } = spec.schedule;
      // Data may land before the first scheduled run, so missing data is a note, not a refusal.
      const missing = checkLocalInputs(spec);
      if (missing.length > 0) {
        io.err(`champ: note: ${missing.map((m) => m.path).join(', ')} missing on this machine now; scheduled runs fail until the data is there`);
      }
      await withClient(io, async (client, cfg) => {
        const outcome = await applySchedule(client, spec, cfg.CHAMP_TASK_QUEUE);
        const id = scheduleIdFor(spec.name);
        const desc = await client.schedule.getHandle(id).describe();
        io.out(`${outcome} schedule ${id}: cron ${scheduleCron(desc)}, overlap ${overlap}, task queue ${cfg.CHAMP_TASK_QUEUE}${desc.state.paused ? ' (paused)' : ''}`);
        const next = desc.info.nextActionTimes.slice(0, 3).map(utc);
        io.out(`  next runs: ${next.length > 0 ? next.join(', ') : 'none'}`);
        io.out(`  ${uiLink(cfg, 'schedules', id)}`);
      });
    });

  schedule
    .command('list')
    .description(`list the pipeline schedules (${SCHEDULE_ID_PREFIX}*)`)
    .action(async () => {
      await withClient(io, async (client) => {
        const rows: string[][] = [];
        for await (const summary of client.schedule.list()) {
          if (!summary.scheduleId.startsWith(SCHEDULE_ID_PREFIX)) continue;
          // The summary has no action arguments, so the cron comes from describe.
          const desc = await client.schedule
            .getHandle(summary.scheduleId)
            .describe()
            .catch((err: unknown) => {
              if (err instanceof ScheduleNotFoundError) return undefined; // deleted since the listing
              throw err;
            });
          if (!desc) continue;
          const next = desc.info.nextActionTimes[0];
          rows.push([desc.scheduleId, scheduleCron(desc), desc.state.paused ? 'yes' : 'no', desc.state.paused ? '-' : next ? utc(next) : 'none']);
        }
        if (rows.length === 0) {
          io.out('no pipeline schedules yet; "champ schedule apply <spec>" creates one');
          return;
        }
        rows.sort((a, b) => a[0]!.localeCompare(b[0]!));
        for (const line of formatTable(['SCHEDULE ID', 'CRON', 'PAUSED', 'NEXT RUN'], rows)) io.out(line);
      });
    });

  schedule
    .command('trigger')
    .argument('<name|id>', 'pipeline name or schedule id', pipelineOrScheduleId)
    .description('start a run now, as the schedule would: its overlap policy applies (skip: not while a run it started is still going)')
    .action(async (nameOrId: string) => {
      await withClient(io, async (client, cfg) => {
        const { handle, desc: before } = await findSchedule(client, nameOrId);
        // The SDK's trigger defaults to allow-all; two runs racing for one endpoint is what the policy prevents.
        await onSchedule(handle, () => handle.trigger(before.policies.overlap ?? ScheduleOverlapPolicy.SKIP));
        // The trigger is asynchronous on the server: watch briefly for what it did.
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline) {
          const now = await onSchedule(handle, () => handle.describe());
          if (now.info.numActionsTaken > before.info.numActionsTaken) {
            const run = now.info.recentActions[now.info.recentActions.length - 1]?.action.workflow.workflowId;
            io.out(`triggered ${handle.scheduleId}: started ${run ?? 'a run'}`);
            if (run) io.out(`  ${uiLink(cfg, 'workflows', run)}`);
            return;
          }
          if (now.info.numActionsSkippedOverlap > before.info.numActionsSkippedOverlap) {
            const running = now.info.runningActions.map((a) => a.workflow.workflowId);
            const which = running.length === 1 ? running[0]! : '<workflowId>';
            throw new CliError(
              `${handle.scheduleId}: the trigger started nothing: ${running.join(', ') || 'a run'} is still running and the overlap policy is ${overlapName(now)}; wait for it, or "champ cancel ${which}"`,
            );
          }
          await new Promise((r) => setTimeout(r, 200));
        }
        io.out(`triggered ${handle.scheduleId}: no run seen yet; "champ schedule list" and "champ list" show what it started`);
        io.out(`  ${uiLink(cfg, 'schedules', handle.scheduleId)}`);
      });
    });

  schedule
    .command('pause')
    .argument('<name|id>', 'pipeline name or schedule id', pipelineOrScheduleId)
    .option('--note <text>', 'why (shown by describe and in the Web UI)')
    .description('stop the schedule from starting runs; runs under way go on')
    .action(async (nameOrId: string, opts: { note?: string }) => {
      await withClient(io, async (client) => {
        const { handle } = await findSchedule(client, nameOrId);
        await onSchedule(handle, () => handle.pause(opts.note ?? `paused with champ by ${io.env.USER ?? 'cli'}`));
        io.out(`paused ${handle.scheduleId}`);
      });
    });

  schedule
    .command('unpause')
    .argument('<name|id>', 'pipeline name or schedule id', pipelineOrScheduleId)
    .option('--note <text>', 'why')
    .description('let the schedule start runs again')
    .action(async (nameOrId: string, opts: { note?: string }) => {
      await withClient(io, async (client) => {
        const { handle } = await findSchedule(client, nameOrId);
        await onSchedule(handle, () => handle.unpause(opts.note ?? `unpaused with champ by ${io.env.USER ?? 'cli'}`));
        const next = (await onSchedule(handle, () => handle.describe())).info.nextActionTimes[0];
        io.out(`unpaused ${handle.scheduleId}${next ? `; next run ${utc(next)}` : ''}`);
      });
    });

  addWatchRunsCommand(schedule, io);

  schedule
    .command('delete')
    .argument('<name|id>', 'pipeline name or schedule id', pipelineOrScheduleId)
    .description('delete the schedule; runs it started go on')
    .action(async (nameOrId: string) => {
      await withClient(io, async (client) => {
        const { handle } = await findSchedule(client, nameOrId);
        await onSchedule(handle, () => handle.delete());
        io.out(`deleted schedule ${handle.scheduleId}; runs it started go on`);
      });
    });
}
