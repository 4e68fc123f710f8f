// The change's last step, once no run from before it is open: deprecatePatch()
// keeps the marker for runs started under patched(), the old path is gone.
import { deprecatePatch } from '@temporalio/workflow';
import { trainingPipeline as current, type PipelineInput, type PipelineResult } from '../../../src/workflows';
import { lookAtEndpoint, PATCH_ID } from './change';

export async function trainingPipeline(input: PipelineInput): Promise<PipelineResult> {
  deprecatePatch(PATCH_ID);
  await lookAtEndpoint(input);
  return current(input);
}

// A run deploys through its endpoint's entity, which the worker of this bundle runs too.
export { endpointWorkflow } from '../../../src/workflows';
