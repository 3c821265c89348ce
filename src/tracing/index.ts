export {
  CDC_TRANSACTION_CHANNEL,
  QUERY_CHANNEL,
  cdcTransactionChannel,
  queryChannel,
  traceWithoutResult,
  type CdcKafkaTraceContext,
  type CdcSinkTraceContext,
  type CdcTransactionTraceContext,
  type QueryRouteKind,
  type QueryTraceContext,
} from './channels.js';
export { KafkaCommitTraces } from './kafka-commit-traces.js';
