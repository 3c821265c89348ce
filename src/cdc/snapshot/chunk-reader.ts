import { MysqlGtidSet } from '../../gtid/index.js';
import type { CanonicalValue } from '../binlog/decoder/canonical-json.js';
import { documentId } from '../events/document-id.js';
import { readLogicalTableSchema } from '../schema/logical-columns.js';
import type { RawRowSession, RawRows } from '../../net/index.js';
import { chunkQuery, type ChunkColumn } from './chunk-query.js';
import { columnConverter, isBinaryField } from './select-values.js';
import { SnapshotError } from './snapshot-error.js';
import type { BinlogPosition, ChunkWatermark } from './snapshot-window.js';

/** A physical table a snapshot reads, with the logical stream its rows go to. */
export interface SnapshotTable {
  database: string;
  table: string;
  logical: string;
  shard: number | null;
}

/** A table's columns and primary key as the chunk reader needs them. */
export interface ChunkTableSchema {
  columns: ChunkColumn[];
  primaryKey: string[];
  /** The server's estimate of the table's rows (INFORMATION_SCHEMA.TABLES.TABLE_ROWS), for progress only; -1 when not read. */
  estimatedRows: number;
}

/** A primary-key value as stored in snapshot progress: text, or base64 of a binary column's bytes. */
export type StoredKeyValue = { s: string } | { b: string };

/** One chunk as read: its rows in the canonical encoding with their document ids, and its watermark. */
export interface Chunk {
  rows: { key: string; row: Record<string, CanonicalValue> }[];
  /** The last primary key read (resume after it), null when the chunk is empty. */
  last: StoredKeyValue[] | null;
  watermark: ChunkWatermark;
}

/** Binds a stored key value back as the SELECT needs it. */
export function boundKeyValue(v: StoredKeyValue): string | Buffer {
  return 's' in v ? v.s : Buffer.from(v.b, 'base64');
}

const PRI_KEY_FLAG = 2;
const FLOAT_TYPE = 4;
const quote = (name: string) => `\`${name.replace(/`/g, '``')}\``;

/**
 * Reads a table's columns and primary key (FLOAT columns are marked: they are read widened). The
 * shards of a logical table share their schema (migrations apply to all), so INFORMATION_SCHEMA —
 * slow on a server with thousands of tables — is read once per logical table (`cache`); every
 * other table is checked with one `SELECT * … LIMIT 0` against it (column names, primary-key
 * flags) and read in full when it differs.
 */
export async function readChunkSchema(
  session: RawRowSession,
  t: SnapshotTable,
  cache: Map<string, ChunkTableSchema> = new Map(),
): Promise<ChunkTableSchema> {
  const name = `${t.database}.${t.table}`;
  let probe: RawRows;
  try {
    probe = await session.select(`SELECT * FROM ${quote(t.database)}.${quote(t.table)} LIMIT 0`);
  } catch (err) {
    if ((err as { errno?: number }).errno === 1146) throw new SnapshotError('SNAPSHOT_TABLE', `${name} does not exist`);
    throw err;
  }
  const cached = cache.get(t.logical);
  const names = probe.fields.map((f) => f.name);
  const flagged = probe.fields.filter((f) => (f.flags & PRI_KEY_FLAG) !== 0).map((f) => f.name);
  if (
    cached &&
    cached.columns.length === names.length &&
    cached.columns.every((c, i) => c.name === names[i]) &&
    cached.primaryKey.length === flagged.length &&
    flagged.every((k) => cached.primaryKey.includes(k))
  ) {
    return { ...cached, columns: probe.fields.map((f) => ({ name: f.name, float32: f.type === FLOAT_TYPE })), estimatedRows: -1 };
  }
  const schema = await readLogicalTableSchema((sql, values) => session.query(sql, values), t.logical, t.database, t.table);
  if (schema.columns.length === 0) throw new SnapshotError('SNAPSHOT_TABLE', `${name} does not exist`);
  if (schema.primaryKey.length === 0) throw new SnapshotError('SNAPSHOT_TABLE', `${name} has no primary key: it cannot be read in chunks`);
  const [estimate] = await session.query<Record<string, unknown>>(
    'SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [t.database, t.table],
  );
  const out: ChunkTableSchema = {
    columns: schema.columns.map((c) => ({ name: c.name, float32: c.dataType === 'float' })),
    primaryKey: schema.primaryKey,
    estimatedRows: Number(estimate?.['n'] ?? 0) || 0,
  };
  cache.set(t.logical, out);
  return out;
}

async function binlogEnd(session: RawRowSession): Promise<BinlogPosition> {
  let rows: Record<string, unknown>[];
  try {
    rows = await session.query('SHOW BINARY LOG STATUS');
  } catch {
    rows = await session.query('SHOW MASTER STATUS');
  }
  const row = rows[0];
  if (!row) throw new SnapshotError('SNAPSHOT_SOURCE', 'SHOW BINARY LOG STATUS returned nothing: is the binary log enabled?');
  return { file: String(row['File']), pos: Number(row['Position']) };
}

function convertRows(raw: RawRows, schema: ChunkTableSchema): Pick<Chunk, 'rows' | 'last'> {
  const { fields } = raw;
  const float32 = new Set(schema.columns.filter((c) => c.float32).map((c) => c.name));
  const keyIndexes = schema.primaryKey.map((name) => fields.findIndex((f) => f.name === name));
  if (keyIndexes.some((i) => i < 0)) throw new SnapshotError('SNAPSHOT_TABLE', 'the chunk result lacks a primary-key column');
  const names = fields.map((f) => f.name);
  const converters = fields.map((f) => columnConverter(f, float32.has(f.name)));
  const width = fields.length;
  const singleKey = keyIndexes.length === 1 ? keyIndexes[0]! : -1;
  const rows = new Array<Chunk['rows'][number]>(raw.rows.length);
  for (let r = 0; r < raw.rows.length; r++) {
    const values = raw.rows[r]!;
    const row: Record<string, CanonicalValue> = {};
    for (let i = 0; i < width; i++) {
      const v = values[i];
      row[names[i]!] = v === null || v === undefined ? null : converters[i]!(v);
    }
    const key = singleKey >= 0 ? row[names[singleKey]!]! : null;
    rows[r] = {
      key: typeof key === 'string' ? key : documentId(singleKey >= 0 ? [key] : keyIndexes.map((i) => row[names[i]!]!)),
      row,
    };
  }
  const lastRaw = raw.rows[raw.rows.length - 1];
  const last = lastRaw
    ? keyIndexes.map((i): StoredKeyValue => {
        const value = lastRaw[i];
        if (value === null || value === undefined) throw new SnapshotError('SNAPSHOT_TABLE', 'a primary-key value is NULL');
        if (typeof value === 'string') return { s: value };
        return isBinaryField(fields[i]!) ? { b: value.toString('base64') } : { s: value.toString('utf8') };
      })
    : null;
  return { rows, last };
}

/**
 * Reads one chunk of a physical table in primary-key order after `after`, without any lock and
 * without writing to the source: on MySQL between a read of `gtid_executed` and of the binlog
 * end; on MariaDB inside a one-statement consistent-snapshot transaction whose binlog position
 * the server reports exactly. Needs SELECT and REPLICATION CLIENT (MariaDB: BINLOG MONITOR) —
 * the grants of the replication account.
 */
export async function readChunk(
  session: RawRowSession,
  flavour: 'mysql' | 'mariadb',
  t: SnapshotTable,
  schema: ChunkTableSchema,
  after: readonly StoredKeyValue[] | null,
  limit: number,
): Promise<Chunk> {
  const q = chunkQuery({ ...t, ...schema }, after ? after.map(boundKeyValue) : null, limit);
  if (flavour === 'mysql') {
    const [gtid] = await session.query<Record<string, unknown>>('SELECT @@GLOBAL.gtid_executed AS executed');
    const executed = MysqlGtidSet.parse(String(gtid?.['executed'] ?? ''));
    const raw = await session.select(q.sql, q.params);
    const end = await binlogEnd(session);
    return { ...convertRows(raw, schema), watermark: { flavour, executed, end } };
  }
  await session.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
  try {
    const status = await session.query<Record<string, unknown>>("SHOW STATUS LIKE 'binlog_snapshot_%'");
    const value = (name: string) => status.find((r) => String(r['Variable_name']).toLowerCase() === name)?.['Value'];
    const file = value('binlog_snapshot_file');
    const pos = value('binlog_snapshot_position');
    if (!file || pos === undefined)
      throw new SnapshotError('SNAPSHOT_SOURCE', 'the server reports no binlog_snapshot_file/position: is the binary log enabled?');
    const raw = await session.select(q.sql, q.params);
    return { ...convertRows(raw, schema), watermark: { flavour, snapshot: { file: String(file), pos: Number(pos) } } };
  } finally {
    await session.query('COMMIT').catch(() => undefined);
  }
}
