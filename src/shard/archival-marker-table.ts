import { quoteIdent } from './physical-names.js';

/**
 * The archival job's marker rows: `<metaDatabase>.archival_batches` on every shard instance. Each
 * batch of the job is one transaction on the instance of one physical table, in this order:
 * `SELECT … FOR UPDATE` of the batch's primary keys, the marker row INSERT (this table), the
 * `DELETE` of those rows from the physical table named by the marker, then — only when the DELETE
 * removed fewer rows than planned (a row changed meanwhile and is no longer older than the cut) —
 * an `UPDATE` of the marker's `rows_deleted`, and COMMIT. The CDC reads the marker row first and
 * flags the deletes that follow it in the same transaction on that physical table as archival
 * (`source.archival`), not a user's. Pure: the table, its DDL and the marker's statements.
 */

/** The marker table's name inside the meta database. */
export const ARCHIVAL_MARKER_TABLE = 'archival_batches';

/** `` `<metaDatabase>`.`archival_batches` ``. */
export function archivalMarkerTable(metaDatabase: string): string {
  return `${quoteIdent(metaDatabase)}.${quoteIdent(ARCHIVAL_MARKER_TABLE)}`;
}

/**
 * The table's DDL (idempotent). `rows_planned`: the primary keys the batch selected and locked;
 * `rows_deleted`: what its DELETE removed when that differs (NULL: equal to `rows_planned`);
 * `cut`: the run's cut (`column < cut` was deleted), the same for every batch of a run.
 */
export function archivalMarkerTableSql(metaDatabase: string): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${archivalMarkerTable(metaDatabase)} (`,
    '  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,',
    '  run_id VARCHAR(64) NOT NULL,',
    '  logical_table VARCHAR(64) NOT NULL,',
    '  physical_db VARCHAR(64) NOT NULL,',
    '  physical_table VARCHAR(64) NOT NULL,',
    '  cut DATETIME(6) NOT NULL,',
    '  rows_planned INT NOT NULL,',
    '  rows_deleted INT NULL,',
    '  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),',
    '  KEY (logical_table, created_at)',
    ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
  ].join('\n');
}

/** One batch's marker row. */
export interface ArchivalMarker {
  runId: string;
  logicalTable: string;
  physicalDb: string;
  physicalTable: string;
  /** `YYYY-MM-DD HH:MM:SS.ffffff` (UTC), as the server printed it. */
  cut: string;
  rowsPlanned: number;
}

/** A statement and its bound values. */
export interface ArchivalStatement {
  sql: string;
  params: unknown[];
}

/** The marker row's INSERT (every value bound). */
export function archivalMarkerInsert(metaDatabase: string, marker: ArchivalMarker): ArchivalStatement {
  return {
    sql: `INSERT INTO ${archivalMarkerTable(metaDatabase)} (run_id, logical_table, physical_db, physical_table, cut, rows_planned) VALUES (?, ?, ?, ?, ?, ?)`,
    params: [marker.runId, marker.logicalTable, marker.physicalDb, marker.physicalTable, marker.cut, marker.rowsPlanned],
  };
}

/** The UPDATE that records a batch's rows actually deleted, when fewer than planned (same transaction, after the DELETE). */
export function archivalMarkerDeletedUpdate(metaDatabase: string, markerId: number | string, rowsDeleted: number): ArchivalStatement {
  return { sql: `UPDATE ${archivalMarkerTable(metaDatabase)} SET rows_deleted = ? WHERE id = ?`, params: [rowsDeleted, markerId] };
}

/**
 * Rows removed from the shards per logical table, by this instance's marker rows (one placeholder
 * per table in `tables`; columns `logical_table`, `batches`, `removed`).
 */
export function archivalRemovedSql(metaDatabase: string, tables: number): string {
  return `SELECT logical_table, COUNT(*) AS batches, COALESCE(SUM(COALESCE(rows_deleted, rows_planned)), 0) AS removed FROM ${archivalMarkerTable(metaDatabase)} WHERE logical_table IN (${Array.from({ length: tables }, () => '?').join(', ')}) GROUP BY logical_table`;
}
