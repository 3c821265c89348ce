import { quoteIdent } from '../shard/index.js';

/**
 * The views `router.analytics` queries through: in the views database, one view per archived
 * table with every column but `_deleted`, of the rows not deleted; in the current-views
 * database the same without the rows the archival job moved out of the shards (`_archived = 1`).
 * Pure: the catalog in, statements out.
 */

/** The archive sink's delete mark (`cdc/sinks/archive`: `_deleted = 1` keeps a deleted row's last values). */
export const DELETED_COLUMN = '_deleted';
/** The archive sink's archival mark (`_archived = 1`: moved out of the shards by the archival job, kept). */
export const ARCHIVED_COLUMN = '_archived';

/** Which rows a views database shows: `live` hides deleted rows, `current` also archived ones. */
export type ViewKind = 'live' | 'current';

/** One column of a table or view as `information_schema` lists it. */
export interface CatalogColumn {
  /** TABLE_SCHEMA */
  db: string;
  /** TABLE_NAME */
  table: string;
  /** COLUMN_NAME */
  column: string;
  /** TABLES.TABLE_TYPE: `BASE TABLE`, `VIEW`, … */
  tableType: string;
}

/** The catalog query: columns of both databases in ordinal order (placeholders: the archive, the views database). */
export const CATALOG_SQL =
  'SELECT c.TABLE_SCHEMA AS db, c.TABLE_NAME AS tbl, c.COLUMN_NAME AS col, t.TABLE_TYPE AS tableType ' +
  'FROM information_schema.COLUMNS c JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME ' +
  'WHERE c.TABLE_SCHEMA IN (?, ?) ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION';

/** Whether a database exists (placeholder: its name; one row when it does). */
export const SCHEMA_EXISTS_SQL = 'SELECT SCHEMA_NAME AS db FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?';

/** {@link CATALOG_SQL}'s rows as catalog columns. */
export function catalogColumns(rows: readonly Record<string, unknown>[]): CatalogColumn[] {
  return rows.map((r) => ({
    db: String(r['db']),
    table: String(r['tbl']),
    column: String(r['col']),
    tableType: String(r['tableType']),
  }));
}

/** `CREATE DATABASE IF NOT EXISTS` for the views database. */
export function createViewsDatabaseSql(viewsDb: string): string {
  return `CREATE DATABASE IF NOT EXISTS ${quoteIdent(viewsDb)} DEFAULT CHARACTER SET utf8mb4`;
}

/**
 * `CREATE OR REPLACE VIEW views.t AS SELECT <columns> FROM archive.t WHERE _deleted = 0` (a
 * `current` view adds `AND _archived = 0` when the table has the column: an archive table older
 * than the archival job has no archived rows).
 */
export function createViewSql(
  viewsDb: string,
  archiveDb: string,
  table: string,
  columns: readonly string[],
  kind: ViewKind = 'live',
): string {
  if (columns.length === 0) throw new RangeError(`table ${table} has no column besides ${DELETED_COLUMN}`);
  const hideArchived = kind === 'current' && columns.includes(ARCHIVED_COLUMN);
  return (
    `CREATE OR REPLACE VIEW ${quoteIdent(viewsDb)}.${quoteIdent(table)} AS SELECT ${columns.map(quoteIdent).join(', ')} ` +
    `FROM ${quoteIdent(archiveDb)}.${quoteIdent(table)} WHERE ${quoteIdent(DELETED_COLUMN)} = 0` +
    (hideArchived ? ` AND ${quoteIdent(ARCHIVED_COLUMN)} = 0` : '')
  );
}

function byTable(columns: readonly CatalogColumn[], db: string): Map<string, { type: string; columns: string[] }> {
  const out = new Map<string, { type: string; columns: string[] }>();
  for (const c of columns) {
    if (c.db !== db) continue;
    let t = out.get(c.table);
    if (!t) out.set(c.table, (t = { type: c.tableType, columns: [] }));
    t.columns.push(c.column);
  }
  return out;
}

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((c, i) => c === b[i]);
}

/**
 * The DDL that brings the views up to date with the archive: a view for each archive base table
 * with a `_deleted` column (an archive table) whose view is missing or lists other columns.
 * Nothing is dropped (a table the archive lost keeps its view, which fails when queried), and a
 * table or other non-view already in the views database under a table's name is left alone.
 * The views database is created first when it does not exist.
 */
export function viewDdl(
  archiveDb: string,
  viewsDb: string,
  catalog: readonly CatalogColumn[],
  viewsDbExists: boolean,
  kind: ViewKind = 'live',
): string[] {
  const out: string[] = viewsDbExists ? [] : [createViewsDatabaseSql(viewsDb)];
  const views = byTable(catalog, viewsDb);
  for (const [table, t] of byTable(catalog, archiveDb)) {
    if (t.type !== 'BASE TABLE' || !t.columns.includes(DELETED_COLUMN)) continue;
    const wanted = t.columns.filter((c) => c !== DELETED_COLUMN);
    if (wanted.length === 0) continue;
    const existing = views.get(table);
    if (existing && (existing.type !== 'VIEW' || sameColumns(existing.columns, wanted))) continue;
    out.push(createViewSql(viewsDb, archiveDb, table, wanted, kind));
  }
  return out;
}
