export { executePlan, wrapQueryError } from './execute-plan.js';
export type { RunOnInstance } from './execute-plan.js';
export { mergeResults, kWayMerge } from './merge-results.js';
export { mergeGrouped } from './merge-grouped.js';
export { streamMerge } from './stream-merge.js';
export { targetRows } from './target-rows.js';
export type { OpenedStream } from './stream-merge.js';
export type { RouterResult, WriteResult } from './merge-results.js';
export { addDecimal, compareDecimal } from './decimal.js';
export { compareValues } from './compare-values.js';
export { executeBatchedWrite, transactionStatements } from './batched-write.js';
export type { BatchSession, WithBatchSession } from './batched-write.js';
export { executeAtomicWrite, prepareStatements } from './atomic-write.js';
export type { AtomicWriteIo } from './atomic-write.js';
export { groupByInstance } from './instance-batches.js';
export type { InstanceBatch } from './instance-batches.js';
export { writeResult } from './write-outcomes.js';
export {
  SHARDLINE_XA_FORMAT_ID,
  coordinatorId,
  formatGtrid,
  parseGtrid,
  branchXid,
  xidSql,
  xidOfRecoverRow,
  isShardlineXid,
} from './xa-xid.js';
export type { ShardlineGtrid, Xid, XaRecoverRow } from './xa-xid.js';
export { xaDecisionSql } from './xa-decision-sql.js';
export { recoveryAction } from './xa-recovery-plan.js';
export type { PreparedBranch, RecoveryAction } from './xa-recovery-plan.js';
