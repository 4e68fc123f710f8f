// The SageMaker calls on endpoints, their configs and models that several
// endpoint activities make: describe one, and delete quietly.
import {
  DeleteEndpointCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointCommand,
  type DescribeEndpointOutput,
  type SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import { classifyAwsError, deleteIfPresent, describeIfPresent, isEndpointBusyError, isNotFoundError, notReady } from '../aws/errors';
import type { EndpointState } from './types';

/** DescribeEndpoint, or undefined when there is no such endpoint. */
export function findEndpoint(sm: SageMakerClient, name: string): Promise<DescribeEndpointOutput | undefined> {
  return describeIfPresent({ operation: 'DescribeEndpoint', resource: `endpoint ${name}` }, () => sm.send(new DescribeEndpointCommand({ EndpointName: name })));
}

export function endpointState(d: DescribeEndpointOutput, name: string): EndpointState {
  return {
    endpointName: d.EndpointName ?? name,
    status: d.EndpointStatus ?? 'Unknown',
    ...(d.EndpointConfigName ? { configName: d.EndpointConfigName } : {}),
    ...(d.FailureReason ? { failureReason: d.FailureReason } : {}),
  };
}

/** The configs an endpoint runs and is moving to. */
export function configsOf(d: DescribeEndpointOutput | undefined): string[] {
  return [d?.EndpointConfigName, d?.PendingDeploymentSummary?.EndpointConfigName].filter((c): c is string => !!c);
}

/**
 * DeleteEndpoint; an endpoint already gone counts as deleted. SageMaker refuses
 * it while the endpoint is Creating or Updating ("Cannot update in-progress
 * endpoint"): that is waited out (a retryable not-ready), never final.
 */
export async function deleteEndpoint(sm: SageMakerClient, name: string): Promise<void> {
  const resource = `endpoint ${name}`;
  try {
    await sm.send(new DeleteEndpointCommand({ EndpointName: name }));
  } catch (err) {
    if (isNotFoundError(err)) return;
    if (isEndpointBusyError(err)) throw notReady({ resource, status: 'Creating or Updating', detail: 'SageMaker deletes it once its change in flight settles' });
    throw classifyAwsError(err, { operation: 'DeleteEndpoint', resource });
  }
}

export function deleteEndpointConfig(sm: SageMakerClient, name: string): Promise<void> {
  return deleteIfPresent({ operation: 'DeleteEndpointConfig', resource: `endpoint config ${name}` }, () =>
    sm.send(new DeleteEndpointConfigCommand({ EndpointConfigName: name })),
  );
}

export function deleteModel(sm: SageMakerClient, name: string): Promise<void> {
  return deleteIfPresent({ operation: 'DeleteModel', resource: `model ${name}` }, () => sm.send(new DeleteModelCommand({ ModelName: name })));
}
