// Reaching the endpoint entity for a workflow, which cannot send updates
// itself: update-with-start (start the endpoint's entity if it is not running,
// then queue the request), and the withdrawal of a request. The entity runs on
// the task queue of the activity's worker; its id comes from the endpoint's
// name and where it lives (endpointScope).
import { Context } from '@temporalio/activity';
import { WithStartWorkflowOperation, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { AwsClients } from '../aws/clients';
import { ErrorTypes } from '../shared';
import {
  cancelDeploymentSignal,
  endpointEntityId,
  endpointScope,
  ENDPOINT_WORKFLOW,
  requestDeploymentUpdate,
  type EndpointEntityInput,
  type RequestAccepted,
} from '../workflows/endpoint/messages';
import type { RequestDeploymentInput, WithdrawDeploymentInput } from './types';

/** Where the worker's SageMaker clients point: the scope of every entity it reaches. */
export async function clientsScope(clients: AwsClients): Promise<string> {
  const region = clients.local ? undefined : await clients.sagemaker.config.region();
  return endpointScope({ local: clients.local, ...(region ? { region } : {}), ...(clients.sagemakerEndpoint ? { sagemakerEndpoint: clients.sagemakerEndpoint } : {}) });
}

export function createEntityActivities(scope: () => Promise<string>) {
  async function requestDeployment(input: RequestDeploymentInput): Promise<RequestAccepted> {
    const ctx = Context.current();
    const { request } = input;
    const endpointName = request.plan.deployment.endpointName;
    const where = await scope();
    const workflowId = endpointEntityId(where, endpointName);
    const args: [EndpointEntityInput] = [{ endpointName, scope: where }];
    const startWorkflowOperation = new WithStartWorkflowOperation(ENDPOINT_WORKFLOW, { workflowId, taskQueue: ctx.info.taskQueue, args, workflowIdConflictPolicy: 'USE_EXISTING' });
    try {
      // The update id is the request id: a retry of this activity is the same update.
      return await ctx.client.workflow.executeUpdateWithStart(requestDeploymentUpdate, { args: [request], updateId: request.requestId, startWorkflowOperation });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        // The entity's validator refused the request: no retry mends it.
        const cause = err.cause instanceof Error ? err.cause.message : err.message;
        throw ApplicationFailure.nonRetryable(`endpoint ${endpointName} (${workflowId}) refused the deployment request: ${cause}`, ErrorTypes.InvalidInput);
      }
      throw err;
    }
  }

  async function withdrawDeployment(input: WithdrawDeploymentInput): Promise<void> {
    const ctx = Context.current();
    try {
      await ctx.client.workflow.getHandle(endpointEntityId(await scope(), input.endpointName)).signal(cancelDeploymentSignal, { requestId: input.requestId, reason: input.reason });
    } catch (err) {
      // No entity, no request to withdraw.
      if (err instanceof WorkflowNotFoundError) return;
      throw err;
    }
  }

  return { requestDeployment, withdrawDeployment };
}
