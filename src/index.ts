/**
 * shardline: sharded MySQL data access with change data capture.
 *
 * @example
 * import { loadClusterConfig, resolveConfigPath, ShardlineError } from 'shardline';
 * const config = loadClusterConfig(resolveConfigPath(undefined));
 */
export { ShardlineError, ConfigError, DevClusterError, UsageError, isShardlineError } from './errors/index.js';
export type { ErrorCode, ShardlineErrorOptions } from './errors/index.js';
export { loadClusterConfig, parseClusterConfig, resolveConfigPath, clusterConfigSchema } from './config/index.js';
export type { ClusterConfig, InstanceConfig, ArchiveConfig } from './config/index.js';
