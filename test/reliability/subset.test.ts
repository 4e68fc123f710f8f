// The bounded subset of the reliability suite that `npm test` (and so CI)
// runs on every submission: one worker crash with a request stream, one AWS
// fault. `npm run test:reliability -- --quick` runs this file alone.
import { awsFaults, FAULT_CASES, workerCrashes } from './scenarios';
import { recordRow, rowPasses } from './kit';

jest.setTimeout(5 * 60_000);

test('a worker SIGKILLed while training is replaced; one of each resource, no request dropped, no secret, no orphan', async () => {
  const row = recordRow(await workerCrashes({ seed: 1202, points: 1, endpoints: 1, stages: ['training'] }));
  expect(row.problems).toEqual([]);
  expect(rowPasses(row)).toBe(true);
});

test('a throttling burst is retried with backoff and the run deploys', async () => {
  const row = recordRow(await awsFaults(FAULT_CASES.filter((c) => c.name.startsWith('throttling'))));
  expect(row.problems).toEqual([]);
  expect(rowPasses(row)).toBe(true);
});
