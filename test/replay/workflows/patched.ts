// The change made the right way: behind patched(), so runs started before it
// take the old path on replay and new runs take the new one.
import { patched } from '@temporalio/workflow';
import { trainingPipeline as current, type PipelineInput, type PipelineResult } from '../../../src/workflows';
import { lookAtEndpoint, PATCH_ID } from './change';

export async function trainingPipeline(input: PipelineInput): Promise<PipelineResult> {
  if (patched(PATCH_ID)) await lookAtEndpoint(input);
  return current(input);
}

// A run deploys through its endpoint's entity, which the worker of this bundle runs too.
export { endpointWorkflow } from '../../../src/workflows';
