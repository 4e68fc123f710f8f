// The change made the wrong way: straight into the code, so runs started
// before it no longer replay.
import { trainingPipeline as current, type PipelineInput, type PipelineResult } from '../../../src/workflows';
import { lookAtEndpoint } from './change';

export async function trainingPipeline(input: PipelineInput): Promise<PipelineResult> {
  await lookAtEndpoint(input);
  return current(input);
}

// A run deploys through its endpoint's entity, which the worker of this bundle runs too.
export { endpointWorkflow } from '../../../src/workflows';
