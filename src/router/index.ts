export { createRouter, checkFdBudget, FD_MARGIN } from './create-router.js';
export type { CreateRouterOptions } from './create-router.js';
export type {
  Router,
  ShardSession,
  Transaction,
  QueryOptions,
  Analytics,
  AnalyticsOptions,
  IndexedOptions,
  NextIdOptions,
  Explain,
  InstanceHealth,
  AnalyticsHealth,
  ReplicaHealth,
  RouterSession,
  Consistency,
  RouterLogger,
  Row,
  RouterResult,
  WriteResult,
  SqlParam,
  Uid,
} from './router-types.js';
