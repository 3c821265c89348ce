import type { LogicalColumn, LogicalTableSchema } from '../../schema/logical-columns.js';

/** The server the archive runs on: MySQL keeps spatial types, TiDB (which has none) stores them as bytes. */
export type ArchiveFlavour = 'mysql' | 'tidb';

/** The bookkeeping columns every archive table has after the source columns. */
export const ARCHIVE_META_COLUMNS = ['_shard', '_version', '_deleted', '_archived', '_archived_at'] as const;

const SPATIAL = new Set([
  'geometry',
  'point',
  'linestring',
  'polygon',
  'multipoint',
  'multilinestring',
  'multipolygon',
  'geometrycollection',
  'geomcollection',
]);
const TEXT = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set']);

/** A MySQL identifier in backticks, backticks inside doubled. */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\0')) throw new RangeError(`not a usable identifier: ${JSON.stringify(name)}`);
  return '`' + name.replace(/`/g, '``') + '`';
}

/** `db`.`table`. */
export function qualifiedName(database: string, table: string): string {
  return `${quoteIdent(database)}.${quoteIdent(table)}`;
}

/** True for the spatial data types (GEOMETRY, POINT, …). */
export function isSpatial(column: Pick<LogicalColumn, 'dataType'>): boolean {
  return SPATIAL.has(column.dataType);
}

/** The archive's character set for a source one: utf8mb3 widens to utf8mb4 (same text, TiDB-safe name). */
function archiveCharset(charset: string): string {
  const cs = charset.toLowerCase();
  return cs === 'utf8' || cs === 'utf8mb3' ? 'utf8mb4' : cs;
}

/**
 * The archive column type of a source column: the source's COLUMN_TYPE, with
 * - text columns in the source's character set (primary-key columns with its `_bin` collation,
 *   so keys the source tells apart never collide in the archive); an ENUM/SET whose labels the
 *   server's INFORMATION_SCHEMA could not print (4-byte characters shown as '?') as VARCHAR;
 * - types the archive server lacks stored as the bytes of their canonical form: MariaDB INET4
 *   → BINARY(4), INET6/UUID → BINARY(16), MySQL 9 VECTOR(n) → VARBINARY(4n), and on TiDB the
 *   spatial types → LONGBLOB (the 4-byte SRID + WKB that MySQL stores).
 */
export function archiveColumnType(column: LogicalColumn, flavour: ArchiveFlavour, inPrimaryKey = false): string {
  const type = column.columnType.trim();
  switch (column.dataType) {
    case 'inet4':
      return 'binary(4)';
    case 'inet6':
    case 'uuid':
      return 'binary(16)';
    case 'vector': {
      const n = /\((\d+)\)/.exec(type)?.[1];
      return `varbinary(${4 * Number(n ?? 2048)})`;
    }
    default:
      break;
  }
  if (isSpatial(column)) return flavour === 'tidb' ? 'longblob' : type;
  if (TEXT.has(column.dataType) && column.charset !== null && column.charset !== 'binary') {
    const cs = archiveCharset(column.charset);
    // MySQL 8.0's INFORMATION_SCHEMA keeps ENUM/SET labels in utf8mb3: a 4-byte character of a
    // label comes out as '?', and that definition would refuse the real value. Such a column is
    // archived as text wide enough for any value (the labels are within the definition's text).
    const lossy = (column.dataType === 'enum' || column.dataType === 'set') && type.includes('?');
    const base = lossy ? `varchar(${type.length})` : type;
    return inPrimaryKey ? `${base} CHARACTER SET ${cs} COLLATE ${cs}_bin` : `${base} CHARACTER SET ${cs}`;
  }
  return type;
}

/** One source column's definition in the archive: NOT NULL only for primary-key columns. */
export function archiveColumnDefinition(column: LogicalColumn, flavour: ArchiveFlavour, inPrimaryKey: boolean): string {
  return `${quoteIdent(column.name)} ${archiveColumnType(column, flavour, inPrimaryKey)} ${inPrimaryKey ? 'NOT NULL' : 'NULL'}`;
}

/** Checks that a logical schema can become an archive table; returns what is wrong, or null. */
export function archiveSchemaProblem(schema: LogicalTableSchema): string | null {
  if (schema.primaryKey.length === 0) return `table ${schema.table} has no primary key; the archive keys rows by it`;
  const names = new Set(schema.columns.map((c) => c.name.toLowerCase()));
  for (const k of schema.primaryKey)
    if (!names.has(k.toLowerCase())) return `primary-key column ${k} of ${schema.table} is not among its columns`;
  for (const m of ARCHIVE_META_COLUMNS) if (names.has(m)) return `column ${m} of ${schema.table} clashes with the archive's own column`;
  return null;
}

/**
 * `CREATE TABLE IF NOT EXISTS` for a logical table: its columns with the source types, then
 * `_shard`, `_version`, `_deleted`, `_archived` (moved out of the shards by the archival job),
 * `_archived_at` (when the row was last written here); the primary key is the logical one.
 * TiDB-compatible: no engine options, utf8mb4 by default.
 */
export function createArchiveTableSql(database: string, schema: LogicalTableSchema, flavour: ArchiveFlavour): string {
  const problem = archiveSchemaProblem(schema);
  if (problem) throw new RangeError(problem);
  const pk = new Set(schema.primaryKey.map((k) => k.toLowerCase()));
  const lines = schema.columns.map((c) => archiveColumnDefinition(c, flavour, pk.has(c.name.toLowerCase())));
  lines.push(
    '`_shard` INT NULL',
    '`_version` BIGINT UNSIGNED NOT NULL',
    '`_deleted` TINYINT(1) NOT NULL DEFAULT 0',
    `${ARCHIVED_COLUMN_DEFINITION}`,
    '`_archived_at` DATETIME(6) NOT NULL',
    `PRIMARY KEY (${schema.primaryKey.map(quoteIdent).join(', ')})`,
  );
  return `CREATE TABLE IF NOT EXISTS ${qualifiedName(database, schema.table)} (\n  ${lines.join(',\n  ')}\n) DEFAULT CHARSET=utf8mb4`;
}

/** `ALTER TABLE … ADD COLUMN` for a source column the archive table lacks (one column per statement: TiDB-safe). */
export function addArchiveColumnSql(database: string, table: string, column: LogicalColumn, flavour: ArchiveFlavour): string {
  return `ALTER TABLE ${qualifiedName(database, table)} ADD COLUMN ${archiveColumnDefinition(column, flavour, false)}`;
}

/** `_archived`: 1 for a row the archival job moved out of the shards (its delete carried `source.archival`). */
const ARCHIVED_COLUMN_DEFINITION = '`_archived` TINYINT(1) NOT NULL DEFAULT 0';

/** `ALTER TABLE … ADD COLUMN _archived` for an archive table made before the column existed. */
export function addArchivedColumnSql(database: string, table: string): string {
  return `ALTER TABLE ${qualifiedName(database, table)} ADD COLUMN ${ARCHIVED_COLUMN_DEFINITION} AFTER \`_deleted\``;
}

/** `CREATE DATABASE IF NOT EXISTS` for the archive database. */
export function createArchiveDatabaseSql(database: string): string {
  return `CREATE DATABASE IF NOT EXISTS ${quoteIdent(database)} DEFAULT CHARACTER SET utf8mb4`;
}
