// Every committed history (test/fixtures/histories) replays on today's
// workflow code. A change to the commands a pipeline issues, made without
// patched(), breaks the runs in flight when the worker is deployed; it fails
// here first. CONTRIBUTING.md has the rule and how to capture a history.
import { workflowBundle } from '../harness/temporal';
import { historyEnd, historyWorkflowType, installQuietRuntime, loadHistories, replayAll } from './histories';

jest.setTimeout(120_000);

const histories = loadHistories();
/** The ends of a pipeline run whose histories must keep replaying (issue 7). */
const REQUIRED_ENDS = ['deployed', 'rejected-by-gate', 'rejected-by-reviewer', 'approval-timed-out', 'rolled-back', 'cancelled', 'failed'];

let errors: Map<string, Error | undefined>;

beforeAll(async () => {
  installQuietRuntime();
  errors = await replayAll(await workflowBundle(), histories);
});

it('holds a history for every end a pipeline run can reach', () => {
  const ends = new Set(histories.map((h) => historyEnd(h.history)));
  expect([...ends].sort()).toEqual(expect.arrayContaining(REQUIRED_ENDS));
});

it('holds histories of the endpoint entity, one of them across continue-as-new, and of a pipeline deploying through it', () => {
  const entity = histories.filter((h) => historyWorkflowType(h.history) === 'endpointWorkflow');
  expect(entity.map((h) => historyEnd(h.history))).toContain('continued-as-new');
  expect(histories.map((h) => h.name)).toContain('deployed-through-entity');
});

it.each(histories.map((h) => h.name))('replays the %s history on src/workflows without a determinism error', (name) => {
  expect(errors.has(name)).toBe(true);
  const error = errors.get(name);
  expect(error && `${error.name}: ${error.message}`).toBeUndefined();
});
