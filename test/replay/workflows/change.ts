// A change to the pipeline's command sequence, for the replay tests: one more
// activity call (a look at the endpoint) before the pipeline's first step.
import { proxyActivities } from '@temporalio/workflow';
import type { PipelineInput } from '../../../src/workflows';

export const PATCH_ID = 'look-at-endpoint-first';

const { describeEndpoint } = proxyActivities<{ describeEndpoint(input: { endpointName: string }): Promise<unknown> }>({ startToCloseTimeout: '1m' });

export async function lookAtEndpoint(input: PipelineInput): Promise<void> {
  await describeEndpoint({ endpointName: input.spec.deployment.endpointName });
}
