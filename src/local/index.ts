// The local SageMaker-compatible control plane, as a component: what a program
// that starts it, configures it or drives its admin API needs. The command is
// main.ts; everything else in this folder is its inside.
export { loadLocalConfig, LocalConfigError, type IsolationSetting, type LocalConfig } from './config';
export { startLocalSageMaker, type LocalSageMaker, type LocalSageMakerOptions } from './server';
export { injectFault, reset, stateSummary, type Fault, type StateSummary } from './admin-client';
