// Benchmark: N consecutive full pipeline runs of the claims-severity example
// through a real stack (Temporal dev server, local control plane, worker) on
// free ports with a temp CHAMP_HOME. The first run creates the endpoint, the
// others update it. Prints each stage's duration from the result's timings,
// the total per run and the median. Asserts nothing.
//
//   npx tsx bench/pipeline.ts [--runs 3] [--rows 5000] [--poll 0.5]
import { Client, Connection } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startStack } from '../src/dev/stack';
import { createLogger } from '../src/logging';
import { DEFAULT_TASK_QUEUE, SEARCH_ATTRIBUTE_KEYS } from '../src/shared';
import { CLAIMS_EXAMPLE, claimsExampleSpec } from '../src/dev/example-spec';
import type { PipelineSpec } from '../src/spec/schema';
import { trainingPipeline, type PipelineInput, type PipelineResult, type PipelineStage } from '../src/workflows';
import { Cleanup, fail, freePort, median, numberFlag, seconds } from './lib';

const BENCH = 'bench/pipeline';
/** A run that takes longer than this is cut off (terminated) and the benchmark stops. */
const RUN_TIMEOUT_MS = 10 * 60_000;

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    rows: { type: 'string', default: '5000' },
    poll: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`npx tsx bench/pipeline.ts [--runs 3] [--rows 5000]
  --runs   consecutive pipeline runs; the first creates the endpoint, the rest update it (1-20)
  --rows   policies generated for each run's data (500-200000)
  --poll   first retry-as-poll interval of the long waits in seconds (0.05-10); default:
           what the worker suggests for the local control plane (0.5 s growing to 2 s)`);
  process.exit(0);
}
const runs = numberFlag(BENCH, 'runs', args.runs, 1, 20);
const rows = numberFlag(BENCH, 'rows', args.rows, 500, 200_000);
const pollSeconds = args.poll === undefined ? undefined : numberFlag(BENCH, 'poll', args.poll, 0.05, 10, false);

// The stack reads these through loadConfig and defaultImageStore: no metrics port to collide
// with another champ on this machine, and images kept inside the temp home.
process.env.CHAMP_METRICS_PORT = '0';
delete process.env.CHAMP_IMAGE_STORE;
const taskQueue = process.env.CHAMP_TASK_QUEUE || DEFAULT_TASK_QUEUE;

function benchSpec(home: string, dataDir: string): PipelineSpec {
  const spec = claimsExampleSpec(dataDir, join(home, 'artifacts'));
  return {
    ...spec,
    approval: { ...spec.approval, required: false },
    deployment: { ...spec.deployment, endpointName: 'bench-pipeline' },
  };
}

interface RunNumbers {
  outcome: string;
  /** Summed per stage: a stage entered twice counts twice. */
  stages: Map<PipelineStage, number>;
  /** First stage start to last stage end, from the workflow's own timings. */
  workflowMs: number;
  /** Client start() to result, as a user waiting on the command sees it. */
  wallMs: number;
}

function numbers(result: PipelineResult, wallMs: number): RunNumbers {
  const stages = new Map<PipelineStage, number>();
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const t of result.timings) {
    const start = Date.parse(t.startedAt);
    const end = Date.parse(t.endedAt);
    stages.set(t.stage, (stages.get(t.stage) ?? 0) + (end - start));
    first = Math.min(first, start);
    last = Math.max(last, end);
  }
  return { outcome: result.outcome, stages, workflowMs: result.timings.length ? last - first : Number.NaN, wallMs };
}

function printTable(results: RunNumbers[]): void {
  const stageOrder: PipelineStage[] = [];
  for (const r of results) for (const s of r.stages.keys()) if (!stageOrder.includes(s)) stageOrder.push(s);
  const head = ['stage', ...results.map((_, i) => `run ${i + 1}${i === 0 ? ' (create)' : ' (update)'}`), 'median'];
  const rowsOut: string[][] = [];
  for (const s of stageOrder) {
    const values = results.map((r) => r.stages.get(s));
    const present = values.filter((v): v is number => v !== undefined);
    rowsOut.push([s, ...values.map((v) => (v === undefined ? '-' : seconds(v))), seconds(median(present))]);
  }
  rowsOut.push(['total (workflow)', ...results.map((r) => seconds(r.workflowMs)), seconds(median(results.map((r) => r.workflowMs)))]);
  rowsOut.push(['total (client wall)', ...results.map((r) => seconds(r.wallMs)), seconds(median(results.map((r) => r.wallMs)))]);
  rowsOut.push(['outcome', ...results.map((r) => r.outcome), '']);
  const widths = head.map((h, c) => Math.max(h.length, ...rowsOut.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  console.log(line(head));
  for (const r of rowsOut) console.log(line(r));
}

async function main(): Promise<void> {
  const cleanup = new Cleanup(BENCH);
  const home = mkdtempSync(join(tmpdir(), 'champ-bench-pipeline-'));
  cleanup.add(() => rmSync(home, { recursive: true, force: true }));
  try {
    const log = createLogger({ level: process.env.LOG_LEVEL ?? 'error', name: 'champ-bench', format: 'pretty' });
    const [temporalPort, uiPort] = [await freePort(), await freePort()];
    const stackStart = performance.now();
    const stack = await startStack({ home, temporalPort, uiPort, sageMakerPort: 0, log });
    cleanup.add(() => stack.stop());
    const pollText = pollSeconds === undefined ? 'worker-suggested poll' : `poll ${pollSeconds} s to ${pollSeconds * 4} s`;
    console.log(`${BENCH}: ${runs} runs, ${rows} rows each, ${pollText}; stack up in ${seconds(performance.now() - stackStart)} (Temporal ${stack.temporalAddress}, SageMaker ${stack.sageMakerUrl})`);

    const connection = await Connection.connect({ address: stack.temporalAddress });
    cleanup.add(() => connection.close());
    const client = new Client({ connection });

    const results: RunNumbers[] = [];
    for (let i = 0; i < runs; i++) {
      const dataDir = join(home, 'data', `run-${i + 1}`);
      execFileSync('python3', [join(CLAIMS_EXAMPLE, 'generate.py'), '--rows', String(rows), '--seed', String(7 + i), '--out', dataDir], { stdio: 'pipe' });
      const spec = benchSpec(home, dataDir);
      const input: PipelineInput = {
        spec,
        trigger: 'manual',
        requestedBy: 'bench',
        ...(pollSeconds === undefined ? {} : { poll: { initialSeconds: pollSeconds, maxSeconds: pollSeconds * 4 } }),
      };
      const workflowId = `bench-pipeline-${i + 1}-${Date.now().toString(36)}`;
      const started = performance.now();
      const handle = await client.workflow.start(trainingPipeline, {
        taskQueue,
        workflowId,
        args: [input],
        typedSearchAttributes: [{ key: SEARCH_ATTRIBUTE_KEYS.pipeline, value: spec.name }],
      });
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new Error(`run ${i + 1} (${workflowId}) did not finish within ${RUN_TIMEOUT_MS / 1000} s`)), RUN_TIMEOUT_MS);
      });
      let result: PipelineResult;
      try {
        result = await Promise.race([handle.result(), deadline]);
      } catch (err) {
        await handle.terminate('bench/pipeline gave up on this run').catch(() => undefined);
        throw err;
      } finally {
        clearTimeout(timer);
      }
      const n = numbers(result, performance.now() - started);
      results.push(n);
      console.log(`run ${i + 1}: ${n.outcome} in ${seconds(n.wallMs)}${result.reason ? ` (${result.reason})` : ''}`);
    }
    console.log('');
    printTable(results);
  } finally {
    await cleanup.run();
  }
}

main().catch((err) => fail(BENCH, (err as Error).stack ?? String(err)));
