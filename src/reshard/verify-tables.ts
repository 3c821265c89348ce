import type { LogicalTableSchema } from '../cdc/schema/logical-columns.js';
import type { RawRowSession } from '../net/index.js';
import { quoteIdent } from '../shard/index.js';
import type { MovedTable } from './moved-tables.js';
import type { MoveDifference } from './move-state.js';

/** One side's checksum of a key range: rows and the XOR of every row's 64-bit digest. */
export interface RangeSum {
  rows: number;
  checksum: string;
}

/**
 * The checksum statement of a key range `(from, to]` (either end open when null): COUNT(*) and
 * BIT_XOR of the first 64 bits of SHA-256 over every column as text, each preceded by its NULL flag
 * — the same text on MySQL and MariaDB for the same values (pt-table-checksum's method; SHA2 because MySQL 9.7 builds may lack MD5). Pure.
 */
export function checksumSql(
  table: MovedTable,
  schema: LogicalTableSchema,
  name: string,
  from: readonly unknown[] | null,
  to: readonly unknown[] | null,
): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (from) {
    const p = keyCompare(schema.primaryKey, '>');
    where.push(p);
    params.push(...expand(schema.primaryKey, from));
  }
  if (to) {
    where.push(`NOT ${keyCompare(schema.primaryKey, '>')}`);
    params.push(...expand(schema.primaryKey, to));
  }
  return { sql: checksumSelect(table, schema, name, where.join(' AND ')), params };
}

/** The checksum statement of the rows with these primary keys (those there are), as {@link checksumSql}. Pure. */
export function keysChecksumSql(
  table: MovedTable,
  schema: LogicalTableSchema,
  name: string,
  keys: readonly (readonly unknown[])[],
): { sql: string; params: unknown[] } {
  const pk = schema.primaryKey.map(quoteIdent);
  const one = pk.length === 1 ? '?' : `(${pk.map(() => '?').join(', ')})`;
  const where = `${pk.length === 1 ? pk[0]! : `(${pk.join(', ')})`} IN (${keys.map(() => one).join(', ')})`;
  return { sql: checksumSelect(table, schema, name, where), params: keys.flatMap((k) => [...k]) };
}

function checksumSelect(table: MovedTable, schema: LogicalTableSchema, name: string, where: string): string {
  const cols = schema.columns.map((c) => quoteIdent(c.name));
  const text = `CONCAT_WS('#', ${cols.map((c) => `ISNULL(${c}), ${c}`).join(', ')})`;
  return `SELECT COUNT(*) AS n, CAST(COALESCE(BIT_XOR(CAST(CONV(SUBSTRING(SHA2(${text}, 256), 1, 16), 16, 10) AS UNSIGNED)), 0) AS CHAR) AS x FROM ${quoteIdent(table.database)}.${quoteIdent(name)}${where ? ` WHERE ${where}` : ''}`;
}

/** `(a > ?) OR (a = ? AND b > ?)` — expanded, as the snapshot's keyset predicate (MariaDB scans ranges for it). */
function keyCompare(pk: readonly string[], op: '>'): string {
  const branches = pk.map((_, i) => {
    const parts = pk.slice(0, i).map((k) => `${quoteIdent(k)} = ?`);
    parts.push(`${quoteIdent(pk[i]!)} ${op} ?`);
    return `(${parts.join(' AND ')})`;
  });
  return `(${branches.join(' OR ')})`;
}

function expand(pk: readonly string[], key: readonly unknown[]): unknown[] {
  return pk.flatMap((_, i) => key.slice(0, i + 1));
}

/** The upper key of the chunk of `rows` rows after `from` on the source, or null when fewer rows remain (the chunk runs to the end). */
export async function chunkEnd(
  s: RawRowSession,
  table: MovedTable,
  schema: LogicalTableSchema,
  name: string,
  from: readonly unknown[] | null,
  rows: number,
): Promise<unknown[] | null> {
  const pk = schema.primaryKey.map(quoteIdent).join(', ');
  const sql = `SELECT ${pk} FROM ${quoteIdent(table.database)}.${quoteIdent(name)}${from ? ` WHERE ${keyCompare(schema.primaryKey, '>')}` : ''} ORDER BY ${pk} LIMIT 1 OFFSET ${rows - 1}`;
  const out = await s.select(sql, from ? expand(schema.primaryKey, from) : []);
  const row = out.rows[0];
  return row ? bindKey(schema, row) : null;
}

/** A key as read (raw text) bound back: integers as BigInt (exact past 2^53). */
export function bindKey(schema: LogicalTableSchema, raw: readonly (string | Buffer | null)[]): unknown[] {
  return schema.primaryKey.map((k, i) => {
    const c = schema.columns.find((x) => x.name === k)!;
    const v = raw[i]!;
    return /int$/.test(c.dataType) && typeof v === 'string' ? BigInt(v) : v;
  });
}

export async function rangeSum(s: RawRowSession, q: { sql: string; params: unknown[] }): Promise<RangeSum> {
  const [row] = await s.query<Record<string, unknown>>(q.sql, q.params);
  return { rows: Number(row?.['n'] ?? 0), checksum: String(row?.['x'] ?? '0') };
}

/**
 * Several checksum statements as one (`UNION ALL`, each row tagged with its index): one round
 * trip instead of one per table. Pure.
 */
export function unionSumsSql(queries: readonly { sql: string; params: unknown[] }[], first: number): { sql: string; params: unknown[] } {
  return {
    sql: queries.map((q, i) => `SELECT ${first + i} AS i, q.n, q.x FROM (${q.sql}) AS q`).join(' UNION ALL '),
    params: queries.flatMap((q) => q.params),
  };
}

/** Checksum statements per round trip in {@link batchedRangeSums}. */
const UNION_PARTS = 24;

/**
 * The checksums of `queries`, in order, over `sessions` in parallel, {@link UNION_PARTS} statements
 * per round trip: the fence's final check, where round trips on a busy host cost more than the reads.
 */
export async function batchedRangeSums(
  sessions: readonly RawRowSession[],
  queries: readonly { sql: string; params: unknown[] }[],
): Promise<RangeSum[]> {
  const out: RangeSum[] = new Array<RangeSum>(queries.length);
  const per = Math.max(1, Math.min(UNION_PARTS, Math.ceil(queries.length / Math.max(1, sessions.length))));
  let next = 0;
  await Promise.all(
    sessions.map(async (s) => {
      while (next < queries.length) {
        const first = next;
        next = Math.min(queries.length, next + per);
        const q = unionSumsSql(queries.slice(first, next), first);
        for (const row of await s.query<Record<string, unknown>>(q.sql, q.params))
          out[Number(row['i'])] = { rows: Number(row['n'] ?? 0), checksum: String(row['x'] ?? '0') };
      }
    }),
  );
  return out;
}

/** A difference found in one chunk (kept after the re-checks). */
export function difference(
  table: MovedTable,
  from: readonly unknown[] | null,
  to: readonly unknown[] | null,
  source: RangeSum,
  target: RangeSum,
): MoveDifference {
  const text = (k: readonly unknown[] | null) => (k === null ? null : k.map((v) => (Buffer.isBuffer(v) ? v.toString('hex') : String(v))));
  return { table: table.key, from: text(from), to: text(to), source, target };
}
