/** A column of a logical table, as INFORMATION_SCHEMA describes it on a source shard. */
export interface LogicalColumn {
  name: string;
  /** INFORMATION_SCHEMA.COLUMNS.DATA_TYPE, lower case: `bigint`, `varchar`, `decimal`, `datetime`, `json`… */
  dataType: string;
  /** INFORMATION_SCHEMA.COLUMNS.COLUMN_TYPE: `bigint unsigned`, `decimal(18,2)`, `enum('a','b')`… */
  columnType: string;
  nullable: boolean;
  /** Character set name, null for non-text columns; `binary` for binary strings. */
  charset: string | null;
}

/** A logical table's columns and primary key (column names in key order). */
export interface LogicalTableSchema {
  table: string;
  columns: LogicalColumn[];
  primaryKey: string[];
}

/** Runs a query with bound values (a session of net/). */
export type QueryFn = <T = Record<string, unknown>>(sql: string, values?: readonly unknown[]) => Promise<T[]>;

/**
 * Reads a physical table's columns and primary key from INFORMATION_SCHEMA and names it by its
 * logical table. Used to derive sink schemas (index templates, archive tables) — never to decode
 * the binlog, which carries its own metadata.
 */
export async function readLogicalTableSchema(
  query: QueryFn,
  logical: string,
  database: string,
  physical: string,
): Promise<LogicalTableSchema> {
  const cols = await query<Record<string, unknown>>(
    'SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType, IS_NULLABLE AS nullable, CHARACTER_SET_NAME AS charset, COLLATION_NAME AS collation FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [database, physical],
  );
  const keys = await query<Record<string, unknown>>(
    "SELECT COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
    [database, physical],
  );
  return {
    table: logical,
    columns: cols.map((c) => {
      const dataType = String(c['dataType']).toLowerCase();
      const binary = /binary|blob/.test(dataType) || (c['collation'] === null && /char|text/.test(dataType));
      return {
        name: String(c['name']),
        dataType,
        columnType: String(c['columnType']).toLowerCase(),
        nullable: c['nullable'] === 'YES',
        charset: binary ? 'binary' : c['charset'] === null || c['charset'] === undefined ? null : String(c['charset']),
      };
    }),
    primaryKey: keys.map((k) => String(k['name'])),
  };
}
