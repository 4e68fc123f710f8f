// The worker's one workflows entry: every workflow and its messages. Only
// workflows are exported as functions here, because the worker registers
// every exported function as a workflow type (evaluateGate lives in ./gate,
// endpointEntityId and endpointScope in ./endpoint/messages).
export { trainingPipeline } from './pipeline';
export { endpointWorkflow } from './endpoint/workflow';
export * from './messages';
export { batchTransform, transformStatusQuery } from './transform';
export type { BatchTransformInput, BatchTransformResult, BatchTransformStatus, TransformStage } from './transform';
export { buildImage, imageBuildStatusQuery } from './build-image';
export type { ImageBuildInput, ImageBuildResult, ImageBuildStatus } from './build-image';
export { dataWatcher } from './watcher';
export type { WatchOutcome, WatchResult } from './watcher';
export {
  cancelDeploymentSignal,
  deploymentOutcomeSignal,
  endpointHistoryQuery,
  endpointStatusQuery,
  freezeUpdate,
  requestDeploymentUpdate,
  rollbackUpdate,
  unfreezeUpdate,
  ENDPOINT_WORKFLOW,
} from './endpoint/messages';
export type * from './endpoint/messages';
export type { GateChampion, GateResult, GateRuleResult, RuleVerdict } from './gate';
