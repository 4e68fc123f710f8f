// Containers of the local control plane: how an image's `train` or `serve`
// runs here (launcher), what it sees (sagemaker-env), what the machine offers
// (capabilities), and how none outlives the control plane (exit-registry,
// crash-ledger).
export { describeIsolation, dockerAvailable, namespaceIsolationAvailable } from './capabilities';
export type { RunningContainer } from './container-process';
export { processStartTicks, reapOrphans, type LedgerEntry } from './crash-ledger';
export { liveContainerPids } from './exit-registry';
export { listOrphanContainers, PLANE_LABEL, planeIdFor, removeOrphanContainers, type ContainerOwner, type OrphanContainer } from './docker';
export { ContainerLauncher, ContainerStartError } from './launcher';
export { DEFAULT_PORT_RANGE, parsePortRange, PortAllocator, type PortRange } from './ports';
export { limitsForInstanceType } from './resources';
export type { IsolationMode } from '../config';
