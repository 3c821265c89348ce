export {
  ShardlineError,
  ConfigError,
  DevClusterError,
  UsageError,
  InvalidUidError,
  SqlParseError,
  RoutingError,
  ShardUnavailableError,
  QueryError,
  MigrationError,
  isShardlineError,
} from './shardline-error.js';
export type { ErrorCode, ShardlineErrorOptions } from './shardline-error.js';
