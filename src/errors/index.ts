export {
  ShardlineError,
  ConfigError,
  DevClusterError,
  UsageError,
  FailoverError,
  ReshardError,
  ArchivalError,
  SinkBehindError,
  InvalidUidError,
  SqlParseError,
  RoutingError,
  ShardUnavailableError,
  QueryError,
  MigrationError,
  RouterClosedError,
  GtidError,
  ConnectionSecurityError,
  KafkaError,
  ReplicationError,
  BinlogError,
  isShardlineError,
} from './shardline-error.js';
export type { ErrorCode, ShardlineErrorOptions, BinlogPosition } from './shardline-error.js';
export { SinkError } from './sink-error.js';
export { MultiShardWriteError, XaRecoveryError } from './multi-shard-write-error.js';
export type { InstanceWriteOutcome, InstanceWriteStatus } from './multi-shard-write-error.js';
export { DriverError, REDACTED, isClientRefusal, redactServerMessage, sanitizeDriverError } from './driver-error.js';
export type { ServerErrorKind, ServerErrorClass, ServerErrorFacts, ServerErrorClassifier } from './driver-error.js';
