// The full reliability run (`npm run test:reliability`), never part of
// `npm test`: every scenario once, each reporting its row to the runner.
import { awsFaults, concurrency, controlPlaneCrash, FAULT_CASES, temporalRestart, workerCrashes, type FaultCase } from './scenarios';
import { recordRow, rowPasses, type Row } from './kit';

const SEED = Number(process.env.CHAMP_RELIABILITY_SEED ?? 1202);

function expectPasses(row: Row): void {
  recordRow(row);
  expect({ scenario: row.scenario, problems: row.problems, passes: rowPasses(row) }).toEqual({ scenario: row.scenario, problems: [], passes: true });
}

const isQuota = (c: FaultCase) => c.name.startsWith('ResourceLimitExceeded');

test('AWS faults: transient ones retried, validation and access denied fail fast naming the fix, a silent rollback caught', async () => {
  expectPasses(await awsFaults(FAULT_CASES.filter((c) => !isQuota(c))));
});

// Its own row: a quota error is retried with a long backoff (30 s, 60 s, 120 s), then fails naming the quota and the fix.
test('AWS ResourceLimitExceeded is retried with backoff', async () => {
  expectPasses(await awsFaults(FAULT_CASES.filter(isQuota), 'AWS ResourceLimitExceeded retried with backoff'));
});

test('worker SIGKILLed at 14 seeded points across the pipeline, requests streaming at the endpoints', async () => {
  expectPasses(await workerCrashes({ seed: SEED, points: 14, endpoints: 3 }));
});

test('control plane SIGKILLed mid-update, restarted on its state folder', async () => {
  expectPasses(await controlPlaneCrash('update'));
});

test('control plane SIGKILLed mid-training, restarted on its state folder', async () => {
  expectPasses(await controlPlaneCrash('training'));
});

test('Temporal server stopped mid-pipeline and restarted on the same database', async () => {
  expectPasses(await temporalRestart());
});

test('50 pipelines on two workers, one killed, 10 on one shared endpoint', async () => {
  expectPasses(await concurrency({ runs: 50, shared: 10, seed: SEED }));
});
