export { devUp, devDown, devStatus, recordedMode } from './dev-cluster.js';
export type { DevMode, DevUpOptions } from './dev-cluster.js';
export { formatStatusTable, normaliseVersion } from './cluster-status.js';
export type { ServiceStatus } from './cluster-status.js';
export { describeServices } from './service-spec.js';
export type { ServiceSpec, ServiceKind, ServiceRole } from './service-spec.js';
export { stateDir } from './state-dir.js';
export { findPortHolder } from './process-table.js';
