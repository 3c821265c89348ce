import { quoteIdent } from './physical-names.js';

/**
 * How far each CDC sink has applied each shard instance's transactions: `<metaDatabase>.sink_progress`
 * on the archive server, one row per (sink, instance). The sinks publish it; routers read it
 * (`router.analytics.query(…, { after, maxStalenessMs })`, `router.indexed(token)`) to wait
 * exactly until a sink has applied a write, never by polling data rows. Pure: what both sides
 * agree on — the table, its columns and what they mean — and nothing else.
 */

/** The sinks that publish their progress. */
export type SinkName = 'archive' | 'elasticsearch';

/** Every {@link SinkName}. */
export const SINK_NAMES: readonly SinkName[] = ['archive', 'elasticsearch'];

/**
 * One row of the table as the server returns it (BIGINT columns may come as bigint, number or
 * decimal text, depending on the connection).
 * - `gtid_set`: MySQL: a GTID set; MariaDB: a GTID position (the last GTID per domain). Every
 *   transaction in it has all its rows applied by the sink (Elasticsearch: and refreshed);
 * - `source_ts_us`: commit time (µs since the epoch) of the last transaction applied;
 * - `caught_up`: 1 when, at `checked_at_us`, the sink had applied everything the CDC worker had
 *   published for the instance;
 * - `checked_at_us`: when the publisher last checked (µs since the epoch).
 */
export interface SinkProgressRow {
  sink: string;
  instance: string;
  flavour: string;
  gtid_set: string | null;
  source_ts_us: bigint | number | string;
  caught_up: number | bigint | string | boolean;
  checked_at_us: bigint | number | string;
}

/**
 * The `sink` column of a sink's rows: its consumer group, `<cdc.groupPrefix>-<sink>` — so that two
 * CDC pipelines of one archive (e.g. two clusters, or tests) never read each other's progress.
 */
export function sinkProgressKey(groupPrefix: string, sink: SinkName): string {
  return `${groupPrefix}-${sink}`;
}

/** `` `<metaDatabase>`.`sink_progress` ``. */
export function sinkProgressTable(metaDatabase: string): string {
  return `${quoteIdent(metaDatabase)}.\`sink_progress\``;
}

/** `CREATE DATABASE IF NOT EXISTS` for the meta database on the archive server. */
export function sinkProgressDatabaseSql(metaDatabase: string): string {
  return `CREATE DATABASE IF NOT EXISTS ${quoteIdent(metaDatabase)} DEFAULT CHARACTER SET utf8mb4`;
}

/** The table's DDL (idempotent; TiDB-compatible: no engine options). */
export function sinkProgressTableSql(metaDatabase: string): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${sinkProgressTable(metaDatabase)} (`,
    '  sink VARCHAR(64) NOT NULL,',
    '  instance VARCHAR(64) NOT NULL,',
    '  flavour VARCHAR(16) NOT NULL,',
    '  gtid_set LONGTEXT NULL,',
    '  source_ts_us BIGINT NOT NULL,',
    '  caught_up TINYINT NOT NULL,',
    '  checked_at_us BIGINT NOT NULL,',
    '  PRIMARY KEY (sink, instance)',
    ') DEFAULT CHARSET=utf8mb4',
  ].join('\n');
}

/** The SELECT of one sink's rows (one placeholder: the sink's name). */
export function readSinkProgressSql(metaDatabase: string): string {
  return `SELECT sink, instance, flavour, gtid_set, source_ts_us, caught_up, checked_at_us FROM ${sinkProgressTable(metaDatabase)} WHERE sink = ?`;
}
