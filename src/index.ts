/**
 * shardline: sharded MySQL data access with change data capture.
 *
 * @example
 * import { createRouter, ShardlineError } from 'shardline';
 * const router = await createRouter(process.env.SHARDLINE_CONFIG ?? 'cluster.yaml');
 * // or in code: createRouter(defineConfig({ instances: [{ name: 'shard-0', flavour: 'mysql', host, port, user, password }] }))
 * const [user] = await router.select('SELECT name FROM users WHERE uid = ?', [42n]);
 */
export { createRouter } from './router/index.js';
export type {
  CreateRouterOptions,
  RouterLogger,
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
  Row,
  RouterResult,
  WriteResult,
  SqlParam,
  Uid,
} from './router/index.js';
export {
  ShardlineError,
  ConfigError,
  DevClusterError,
  UsageError,
  FailoverError,
  InvalidUidError,
  SqlParseError,
  RoutingError,
  ShardUnavailableError,
  QueryError,
  MigrationError,
  RouterClosedError,
  GtidError,
  ConnectionSecurityError,
  MultiShardWriteError,
  XaRecoveryError,
  SinkBehindError,
  isShardlineError,
} from './errors/index.js';
export type { ErrorCode, ShardlineErrorOptions, InstanceWriteOutcome, InstanceWriteStatus } from './errors/index.js';
export {
  loadClusterConfig,
  parseClusterConfig,
  resolveConfigPath,
  clusterConfigSchema,
  defineConfig,
  requireSections,
} from './config/index.js';
export type {
  ClusterConfig,
  ClusterConfigInput,
  InstanceConfig,
  ArchiveConfig,
  ShardingConfig,
  PoolConfig,
  OptionalSection,
  ConfigWith,
  CdcClusterConfig,
} from './config/index.js';
export { Topology, canonicalUid, crc32Hasher } from './shard/index.js';
export type { ShardLocation, UidHasher } from './shard/index.js';
export { QUERY_CHANNEL, CDC_TRANSACTION_CHANNEL } from './tracing/index.js';
export type {
  QueryTraceContext,
  QueryRouteKind,
  CdcTransactionTraceContext,
  CdcKafkaTraceContext,
  CdcSinkTraceContext,
} from './tracing/index.js';
