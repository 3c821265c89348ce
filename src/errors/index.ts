export {
  ShardlineError,
  ConfigError,
  DevClusterError,
  UsageError,
  isShardlineError,
} from './shardline-error.js';
export type { ErrorCode, ShardlineErrorOptions } from './shardline-error.js';
