// trainingPipeline's door: an input without a spec fails the run at once with a
// failure that says how to start one, instead of failing every workflow task.
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { withWorker } from '../harness/temporal';
import { trainingPipeline, type PipelineInput } from '../../src/workflows';
import { fakeActivities } from './fake-activities';
import { FAST_POLL } from './helpers';

const MESSAGE = 'input.spec is required: start trainingPipeline with {"spec": <the pipeline spec>}';

describe('trainingPipeline input', () => {
  it.each([
    ['a null input', null],
    ['an input without a spec', { poll: FAST_POLL }],
    ['an input whose spec is null', { spec: null, poll: FAST_POLL }],
  ])('fails %s with a non-retryable InvalidInput naming input.spec, before any activity', async (_what, input) => {
    const fake = fakeActivities();
    await withWorker({ activities: fake.activities }, async ({ client, taskQueue }) => {
      const handle = await client.workflow.start(trainingPipeline, {
        taskQueue,
        workflowId: `pipeline-input-${randomUUID()}`,
        args: [input as unknown as PipelineInput],
      });
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect(cause).toMatchObject({ type: 'InvalidInput', nonRetryable: true, message: MESSAGE });
      expect((await handle.describe()).status.name).toBe('FAILED');
      expect(fake.calls).toEqual([]);
    });
  });
});
