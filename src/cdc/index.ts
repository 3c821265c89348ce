/**
 * shardline/cdc: the binlog reader and change events.
 *
 * @example
 * import { TransactionStream } from 'shardline/cdc';
 * const stream = new TransactionStream({ instance: 'shard-0', endpoint, replicaServerId: 4001, from: 'current' });
 * for await (const item of stream.items()) if (item.type === 'commit') await save(item.checkpoint);
 */
export {
  BinlogDecoder,
  BinlogReader,
  TransactionStream,
  TransactionAssembler,
  EventType,
  IGNORED_EVENTS,
  eventTypeName,
  canonicalValue,
  canonicalRow,
  TimestampValue,
  GeometryValue,
  decodeDecimal,
  decodeJsonBinary,
  encodeGtidSet,
} from './binlog/index.js';
export type {
  BinlogEvent,
  EventHeader,
  CanonicalValue,
  BinlogValue,
  RowChange,
  RowImage,
  TableMap,
  ColumnDef,
  BinlogReaderOptions,
  StartPoint,
  ServerFacts,
  TransactionStreamOptions,
  RetryPolicy,
  StreamOrigin,
  TransactionItem,
  RowsEvent,
  QueryEvent,
} from './binlog/index.js';
export { positionAtOrAfter, MysqlGtidSet, MariadbGtidState, CheckpointStore } from './checkpoint/index.js';
export type { Checkpoint } from './checkpoint/index.js';
export { SchemaHistory, ddlEffect } from './schema/index.js';
export type { DdlEffect } from './schema/index.js';
export { changeEvents } from './events/change-event.js';
export type { ChangeEvent, ChangeSource, ChangeContext } from './events/change-event.js';
export { BinlogError, SinkError, GtidError, KafkaError, ReplicationError, ConnectionSecurityError } from '../errors/index.js';
export { CdcWorker, captureRules, capturedTables } from './worker.js';
export type { CdcWorkerOptions, WorkerRole } from './worker.js';
export { KafkajsEventLog } from './kafka/kafkajs-event-log.js';
export type {
  EventLog,
  TransactionalProducer,
  ProducerTransaction,
  OutboundMessage,
  InboundMessage,
  GroupConsumer,
} from './kafka/event-log.js';
export { EsSink, EsSinkError } from './sinks/elasticsearch/index.js';
export { ArchiveSink, ArchiveSinkError } from './sinks/archive/index.js';
export { SinkRunner } from './sinks/sink-runner.js';
export type { Sink, SinkRecord, DeadLetter } from './sinks/sink-record.js';
export { sourceVersion } from './events/source-version.js';
export { SourceSchemas } from './schema/source-schema.js';
export type { LogicalTableSchema, LogicalColumn } from './schema/logical-columns.js';
