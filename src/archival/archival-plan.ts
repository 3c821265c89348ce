import { parseDuration, type ArchivalConfig, type ShardingConfig } from '../config/index.js';
import { ArchivalError } from '../errors/index.js';
import { ARCHIVAL_MARKER_TABLE, MOVE_FENCE_SQLSTATE, quoteIdent, type ArchivalStatement, type Topology } from '../shard/index.js';

/**
 * The archival job's pure parts: which tables it archives and how, the physical tables of each,
 * the statements of a batch, the cut and the pacing. No I/O; `archival-runner.ts` runs them.
 */

/** A logical table the job archives, with its `archival` config resolved. */
export interface ArchivalTable {
  /** The logical table (as named in `sharding.tables`). */
  logical: string;
  column: string;
  /** As written in the config (`90d`). */
  olderThan: string;
  olderThanMs: number;
  batchRows: number;
  /** null: no bound. */
  maxRowsPerSecond: number | null;
  search: 'keep' | 'drop';
}

/** The tables with an `archival` config, in config order; only `only` when given. */
export function archivalTables(sharding: Pick<ShardingConfig, 'tables'>, only?: string): ArchivalTable[] {
  const entries = Object.entries(sharding.tables);
  const configured = entries.filter((e): e is [string, { shardKey: string; archival: ArchivalConfig }] => e[1].archival !== undefined);
  if (only !== undefined) {
    const found = entries.find(([name]) => name.toLowerCase() === only.toLowerCase());
    if (!found)
      throw new ArchivalError('ARCHIVAL_NOT_CONFIGURED', `no sharded table ${only} in sharding.tables (tables: ${names(entries)})`, {
        details: { table: only },
      });
    if (!found[1].archival)
      throw new ArchivalError(
        'ARCHIVAL_NOT_CONFIGURED',
        `table ${found[0]} has no archival config: add sharding.tables.${found[0]}.archival { column, olderThan } (tables with one: ${names(configured)})`,
        { details: { table: found[0] } },
      );
    return [resolve(found[0], found[1].archival)];
  }
  if (!configured.length)
    throw new ArchivalError(
      'ARCHIVAL_NOT_CONFIGURED',
      'no table has an archival config: add sharding.tables.<table>.archival { column, olderThan } to the cluster config',
    );
  return configured.map(([name, t]) => resolve(name, t.archival));
}

const names = (entries: readonly [string, unknown][]): string => (entries.length ? entries.map(([n]) => n).join(', ') : 'none');

function resolve(logical: string, a: ArchivalConfig): ArchivalTable {
  const olderThanMs = parseDuration(a.olderThan);
  if (olderThanMs === null)
    throw new ArchivalError('ARCHIVAL_NOT_CONFIGURED', `sharding.tables.${logical}.archival.olderThan: not a duration such as 90d`);
  return {
    logical,
    column: a.column,
    olderThan: a.olderThan,
    olderThanMs,
    batchRows: a.batchRows,
    maxRowsPerSecond: a.maxRowsPerSecond,
    search: a.search,
  };
}

/** One physical table of a logical one, where the shard map puts it. */
export interface PhysicalTable {
  logical: string;
  shard: number;
  instance: string;
  database: string;
  table: string;
}

/** Every physical table of `logical` (shard order) on the instance the topology's map gives its shard. */
export function physicalTables(topology: Topology, logical: string): PhysicalTable[] {
  const out: PhysicalTable[] = [];
  for (let shard = 0; shard < topology.shardCount; shard++)
    out.push({
      logical,
      shard,
      instance: topology.map.instanceOf(shard),
      database: topology.names.database(shard),
      table: topology.names.table(logical, shard),
    });
  return out;
}

/** What the job needs to know of a physical table: its primary key and the age column. */
export interface TableShape {
  /** Primary-key columns in key order; `integer` keys are bound as BigInt (exact past 2^53). */
  primaryKey: { name: string; integer: boolean }[];
  column: string;
}

/**
 * `TABLE_SCHEMA IN (…) AND TABLE_NAME IN (…)` over the tables' distinct schema and table names,
 * bound; the catalogue queries below ignore the pairs not asked for.
 */
function tablesFilter(tables: readonly PhysicalTable[]): ArchivalStatement {
  const dbs = [...new Set(tables.map((t) => t.database))];
  const names = [...new Set(tables.map((t) => t.table))];
  const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');
  return { sql: `TABLE_SCHEMA IN (${marks(dbs.length)}) AND TABLE_NAME IN (${marks(names.length)})`, params: [...dbs, ...names] };
}

/**
 * Columns of many physical tables of one instance in one statement (the job reads an instance's
 * table shapes at once instead of two catalogue reads per table): rows `db, tbl, name, type`.
 */
export function columnsOfTablesSql(tables: readonly PhysicalTable[]): ArchivalStatement {
  const where = tablesFilter(tables);
  return {
    sql: `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS tbl, COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS WHERE ${where.sql} ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
    params: where.params,
  };
}

/** Primary-key columns of many physical tables of one instance in one statement: rows `db, tbl, name` in key order. */
export function primaryKeysOfTablesSql(tables: readonly PhysicalTable[]): ArchivalStatement {
  const where = tablesFilter(tables);
  return {
    sql: `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS tbl, COLUMN_NAME AS name FROM information_schema.STATISTICS WHERE ${where.sql} AND INDEX_NAME = 'PRIMARY' ORDER BY TABLE_SCHEMA, TABLE_NAME, SEQ_IN_INDEX`,
    params: where.params,
  };
}

/**
 * The shape of each of `tables` from the rows of {@link columnsOfTablesSql} and
 * {@link primaryKeysOfTablesSql} (in their order), by `database.table`: a {@link TableShape}, or
 * the {@link ArchivalError} {@link tableShape} gives for that table (thrown when the table's turn
 * comes, so one broken table fails where the per-table read would have). Pure.
 */
export function tableShapes(
  tables: readonly PhysicalTable[],
  column: string,
  columns: readonly { db: unknown; tbl: unknown; name: unknown; type: unknown }[],
  primaryKeys: readonly { db: unknown; tbl: unknown; name: unknown }[],
): Map<string, TableShape | ArchivalError> {
  const group = <R extends { db: unknown; tbl: unknown }>(rows: readonly R[]) => {
    const by = new Map<string, R[]>();
    for (const r of rows) {
      const k = `${String(r.db)}.${String(r.tbl)}`;
      const list = by.get(k);
      if (list) list.push(r);
      else by.set(k, [r]);
    }
    return by;
  };
  const cols = group(columns);
  const pks = group(primaryKeys);
  const out = new Map<string, TableShape | ArchivalError>();
  for (const t of tables) {
    const k = `${t.database}.${t.table}`;
    try {
      out.set(k, tableShape(t, column, cols.get(k) ?? [], pks.get(k) ?? []));
    } catch (err) {
      if (!(err instanceof ArchivalError)) throw err;
      out.set(k, err);
    }
  }
  return out;
}

const TEMPORAL = new Set(['date', 'datetime', 'timestamp']);
const INTEGER = /^(tinyint|smallint|mediumint|int|integer|bigint)$/;

/**
 * The shape of a physical table from its catalogue rows (columns in order; primary-key columns in key order).
 * @throws {ArchivalError} ARCHIVAL_FAILED when the table is missing, has no primary key, or its
 *   age column is missing or not a DATE, DATETIME or TIMESTAMP.
 */
export function tableShape(
  t: PhysicalTable,
  column: string,
  columns: readonly { name: unknown; type: unknown }[],
  primaryKey: readonly { name: unknown }[],
): TableShape {
  const where = `${t.database}.${t.table} on ${t.instance}`;
  if (!columns.length)
    throw new ArchivalError('ARCHIVAL_FAILED', `${where} does not exist: run shardline migrate`, { details: physicalDetails(t) });
  const types = new Map(columns.map((c) => [String(c.name).toLowerCase(), String(c.type).toLowerCase()]));
  const type = types.get(column.toLowerCase());
  if (type === undefined)
    throw new ArchivalError('ARCHIVAL_FAILED', `${where} has no column ${column} (sharding.tables.${t.logical}.archival.column)`, {
      details: { ...physicalDetails(t), column },
    });
  if (!TEMPORAL.has(type))
    throw new ArchivalError(
      'ARCHIVAL_FAILED',
      `${where}: column ${column} is ${type.toUpperCase()}, the archival column must be a DATE, DATETIME or TIMESTAMP`,
      { details: { ...physicalDetails(t), column, type } },
    );
  if (!primaryKey.length)
    throw new ArchivalError('ARCHIVAL_FAILED', `${where} has no primary key: it cannot be archived in key batches`, {
      details: physicalDetails(t),
    });
  return {
    primaryKey: primaryKey.map((k) => ({ name: String(k.name), integer: INTEGER.test(types.get(String(k.name).toLowerCase()) ?? '') })),
    column,
  };
}

/** Names of a physical table for error details (never values). */
export function physicalDetails(t: PhysicalTable): Record<string, unknown> {
  return { table: t.logical, instance: t.instance, database: t.database, physical: t.table };
}

const qualified = (t: PhysicalTable): string => `${quoteIdent(t.database)}.${quoteIdent(t.table)}`;

/**
 * The keyset predicate "primary key after `after`" in expanded form — `(a > ?) OR (a = ? AND b > ?)`,
 * the same rows as the row-value comparison `(a, b) > (?, ?)`, which MariaDB does not scan as a
 * range of the primary key (the snapshot and the shard moves use this form for the same reason).
 */
function after(shape: TableShape, key: readonly unknown[]): ArchivalStatement {
  const pk = shape.primaryKey.map((k) => quoteIdent(k.name));
  const branches: string[] = [];
  const params: unknown[] = [];
  for (let i = 0; i < pk.length; i++) {
    const parts = pk.slice(0, i).map((c) => `${c} = ?`);
    parts.push(`${pk[i]!} > ?`);
    params.push(...key.slice(0, i + 1));
    branches.push(parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`);
  }
  return { sql: branches.length === 1 ? branches[0]! : `(${branches.join(' OR ')})`, params };
}

/**
 * A batch's candidates: the primary keys of at most `limit` rows older than the cut after the
 * batch before (`from`, null for the first), in key order. A plain consistent read outside the
 * batch's transaction: it takes no row locks while it scans past the recent rows (the age column
 * need not be indexed), and a table with nothing to archive costs this one statement. The
 * DELETE re-checks the cut, so a row changed after this read stays.
 */
export function selectBatchSql(
  t: PhysicalTable,
  shape: TableShape,
  from: readonly unknown[] | null,
  cut: string,
  limit: number,
): ArchivalStatement {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('a batch has at least one row');
  const pk = shape.primaryKey.map((k) => quoteIdent(k.name)).join(', ');
  const keyset = from === null ? null : after(shape, from);
  const where = [...(keyset ? [keyset.sql] : []), `${quoteIdent(shape.column)} < ?`].join(' AND ');
  return {
    sql: `SELECT ${pk} FROM ${qualified(t)} WHERE ${where} ORDER BY ${pk} LIMIT ${limit}`,
    params: [...(keyset ? keyset.params : []), cut],
  };
}

/**
 * A batch's DELETE: the rows of `keys` (as read by {@link selectBatchSql}, bound with
 * {@link boundKey}) still older than the cut — a row changed meanwhile stays.
 */
export function deleteBatchSql(t: PhysicalTable, shape: TableShape, keys: readonly (readonly unknown[])[], cut: string): ArchivalStatement {
  if (!keys.length) throw new RangeError('a DELETE of no keys');
  const pk = shape.primaryKey.map((k) => quoteIdent(k.name));
  const one = pk.length === 1 ? '?' : `(${pk.map(() => '?').join(', ')})`;
  const target = pk.length === 1 ? pk[0]! : `(${pk.join(', ')})`;
  return {
    sql: `DELETE FROM ${qualified(t)} WHERE ${target} IN (${keys.map(() => one).join(', ')}) AND ${quoteIdent(shape.column)} < ?`,
    params: [...keys.flatMap((k) => [...k]), cut],
  };
}

/** The dry run's count of the rows older than the cut. */
export function countOlderSql(t: PhysicalTable, column: string, cut: string): ArchivalStatement {
  return { sql: `SELECT COUNT(*) AS n FROM ${qualified(t)} WHERE ${quoteIdent(column)} < ?`, params: [cut] };
}

/** A primary key as a row of {@link selectBatchSql} holds it, ready to bind: integer columns as BigInt. */
export function boundKey(shape: TableShape, row: Readonly<Record<string, unknown>>): unknown[] {
  return shape.primaryKey.map((k) => {
    const v = row[k.name];
    return k.integer && (typeof v === 'string' || typeof v === 'number') ? BigInt(v) : v;
  });
}

/** The server's clock, read once per run (UTC session): `YYYY-MM-DD HH:MM:SS.ffffff`. */
export const NOW_SQL = 'SELECT CAST(NOW(6) AS CHAR) AS now';

const DATETIME6 = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/**
 * `now − olderThanMs` as DATETIME(6) text (exact to the microsecond: the fraction below a
 * millisecond is carried over). `now` is {@link NOW_SQL}'s text.
 * @throws {ArchivalError} ARCHIVAL_FAILED when `now` is not such a text or the cut falls before year 1000.
 */
export function cutOf(now: string, olderThanMs: number): string {
  const m = DATETIME6.exec(now);
  if (!m) throw new ArchivalError('ARCHIVAL_FAILED', `the server's clock read as ${JSON.stringify(now)}, not a DATETIME(6)`);
  const fraction = (m[7] ?? '').padEnd(6, '0');
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +fraction.slice(0, 3)) - olderThanMs;
  const d = new Date(ms);
  if (!Number.isFinite(ms) || d.getUTCFullYear() < 1000)
    throw new ArchivalError('ARCHIVAL_FAILED', `the cut ${now} − ${olderThanMs} ms falls before the year 1000`);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}${fraction.slice(3)}`;
}

/**
 * Paces the run's deletes to `maxRowsPerSecond` over all its physical tables together: a batch
 * may start once the rows booked so far are paid for ({@link delay}), and books the rows it
 * deleted when it ends ({@link book}) — a batch that found nothing costs nothing. Time the run
 * fell behind is not made up later in a burst, so the bound holds over every window longer than
 * one batch per instance (the instances' batches may start together). Pure: time comes in as
 * `now` (ms).
 */
export class RatePacer {
  private nextAt = -Infinity;

  constructor(private readonly maxRowsPerSecond: number | null) {}

  /** How long to wait (ms) at `now` before the next batch may start. */
  delay(now: number): number {
    return this.maxRowsPerSecond === null ? 0 : Math.max(0, this.nextAt - now);
  }

  /** A batch that started at `startedAt` deleted `rows` rows. */
  book(startedAt: number, rows: number): void {
    if (this.maxRowsPerSecond === null || rows <= 0) return;
    this.nextAt = Math.max(this.nextAt, startedAt) + (rows / this.maxRowsPerSecond) * 1000;
  }
}

/** A run's id: `arch-` + the start time (base 36) + 8 random hex digits (at most 64 characters: the marker's `run_id`). */
export function runIdOf(nowMs: number, randomHex: string): string {
  return `arch-${nowMs.toString(36)}-${randomHex.slice(0, 8)}`;
}

/** Rows per second of `rows` in `ms` (one decimal; 0 for no time). */
export function rowsPerSecond(rows: number, ms: number): number {
  return ms > 0 ? Math.round((rows / ms) * 10_000) / 10 : 0;
}

/** MySQL / MariaDB: no such table. */
const ER_NO_SUCH_TABLE = 1146;

/**
 * A batch's failure that says a shard move fenced its physical table (SQLSTATE `45F01` from the
 * fence trigger) or took it away (no such table: renamed after the cut-over) — the shard's rows
 * are now, or soon, on another instance. A missing marker table is not that.
 */
export function isShardMoveError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { errno?: unknown; sqlState?: unknown; sql?: unknown };
  if (e.sqlState === MOVE_FENCE_SQLSTATE) return true;
  return e.errno === ER_NO_SUCH_TABLE && !(typeof e.sql === 'string' && e.sql.includes(`\`${ARCHIVAL_MARKER_TABLE}\``));
}
