export { ArchiveSink } from './archive-sink.js';
export type { ArchiveSinkOptions, ArchiveRetryOptions } from './archive-sink.js';
export { ArchiveSinkError, classifyArchiveError } from './archive-errors.js';
export type { ArchiveErrorClass } from './archive-errors.js';
export { createArchiveMetrics } from './archive-metrics.js';
export type { ArchiveMetrics } from './archive-metrics.js';
export {
  createArchiveTableSql,
  addArchiveColumnSql,
  addArchivedColumnSql,
  archiveColumnType,
  quoteIdent,
  ARCHIVE_META_COLUMNS,
} from './archive-ddl.js';
export type { ArchiveFlavour } from './archive-ddl.js';
export { archiveParam, ArchiveValueError } from './archive-values.js';
export type { ArchiveParam } from './archive-values.js';
export { buildUpsert, guardedAssignments, upsertOutcome } from './archive-upsert.js';
export type { UpsertStatement, UpsertOutcome } from './archive-upsert.js';
export { recordRows, keyFromId } from './archive-rows.js';
export type { ArchiveRow } from './archive-rows.js';
export { planTransactions, groupStatements } from './archive-batches.js';
export type { ArchiveUnit, BatchLimits } from './archive-batches.js';
export type { ArchiveEndpoint } from '../../../net/archive-connection.js';
