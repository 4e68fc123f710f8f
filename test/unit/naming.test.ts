import { pipelineResourceNames, runKey } from '../../src/aws/naming';
import { SAGEMAKER_NAME } from '../../src/spec/schema';

describe('deterministic resource names', () => {
  it('gives the same names for the same run, so a retry finds what it made', () => {
    expect(pipelineResourceNames('claims', 'wf-1', 'run-a')).toEqual(pipelineResourceNames('claims', 'wf-1', 'run-a'));
  });

  it('gives different names to different runs and different workflows', () => {
    const a = pipelineResourceNames('claims', 'wf-1', 'run-a').trainingJob;
    expect(pipelineResourceNames('claims', 'wf-1', 'run-b').trainingJob).not.toBe(a);
    expect(pipelineResourceNames('claims', 'wf-2', 'run-a').trainingJob).not.toBe(a);
  });

  it('makes valid SageMaker names of at most 63 characters for the longest pipeline name', () => {
    const names = pipelineResourceNames('a'.repeat(32), 'x'.repeat(400), 'r');
    for (const name of [names.trainingJob, names.model, names.endpointConfig]) {
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(SAGEMAKER_NAME);
    }
  });

  it('derives a 12-hex-digit run key', () => {
    expect(runKey('wf', 'run')).toMatch(/^[0-9a-f]{12}$/);
  });
});
