import { RoutingError } from '../errors/index.js';
import type { DbConnection } from '../net/index.js';
import { quoteIdent } from '../shard/index.js';
import type { LeaseBlock } from './id-allocator.js';

/** `<metaDatabase>.id_segments`: one row per sequence, the next ID no block has taken yet. */
export function idSegmentsTable(meta: string): string {
  return `${quoteIdent(meta)}.\`id_segments\``;
}

/** The statements of one lease (pure): the table (idempotent), then one atomic bump of the row. */
export function leaseSql(meta: string): { create: string[]; bump: string; read: string } {
  const t = idSegmentsTable(meta);
  return {
    create: [
      `CREATE DATABASE IF NOT EXISTS ${quoteIdent(meta)}`,
      `CREATE TABLE IF NOT EXISTS ${t} (name VARCHAR(64) NOT NULL PRIMARY KEY, next_id BIGINT UNSIGNED NOT NULL, leased_at DATETIME(6) NOT NULL) ENGINE=InnoDB`,
    ],
    // a first lease of a name inserts [1, 1 + size); every later one moves the row up by size —
    // one autocommit statement, so two processes never get the same block
    bump: `INSERT INTO ${t} (name, next_id, leased_at) VALUES (?, LAST_INSERT_ID(1 + ?), NOW(6)) ON DUPLICATE KEY UPDATE next_id = LAST_INSERT_ID(next_id + ?), leased_at = NOW(6)`,
    read: 'SELECT LAST_INSERT_ID() AS v',
  };
}

/**
 * Leases blocks from `<metaDatabase>.id_segments` on one instance, through `use` (a connection of
 * the router's pool for that instance: breakers, timeouts and failover apply). The table is
 * created on the first lease of the process.
 */
export function segmentLease(
  meta: string,
  use: <T>(work: (conn: DbConnection) => Promise<T>) => Promise<T>,
  timeoutMs: number,
): LeaseBlock {
  const sql = leaseSql(meta);
  let ready: Promise<void> | null = null;
  return async (name, size) => {
    ready ??= use(async (conn) => {
      for (const s of sql.create) await conn.query(s, [], timeoutMs);
    }).catch((err: unknown) => {
      ready = null;
      throw err;
    });
    await ready;
    return use(async (conn) => {
      await conn.query(sql.bump, [name, size, size], timeoutMs);
      const out = await conn.query(sql.read, [], timeoutMs);
      const v = out.kind === 'rows' ? out.rows[0]?.['v'] : undefined;
      if (v === undefined || v === null) throw new RoutingError('ID_SEQUENCE', `the lease of sequence ${name} returned no value`);
      return BigInt(String(v));
    });
  };
}

/**
 * How far an unplanned failover moves every sequence of `id_segments` on the promoted node (2^40
 * IDs, about 1.1 × 10^12): past any lease the dead primary granted that never reached its replica
 * (asynchronous replication loses the last transactions), so no block is leased twice. That
 * covers 1,048,576 lost leases of the default largest block (`router.ids.maxBlock`, 10^6); the
 * cost is a gap in each sequence, never a repeat, and 2^64 − 1 leaves room for ~16 million
 * failovers.
 */
export const ID_FAILOVER_SKIP = 1n << 40n;

const MAX_NEXT_ID = 18446744073709551615n;

/** The statements that move every sequence on past a failover's lost leases (pure). */
export function failoverSkipSql(meta: string, skip: bigint = ID_FAILOVER_SKIP): { exists: BoundSql; skip: BoundSql } {
  return {
    exists: {
      sql: "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = 'id_segments'",
      values: [meta],
    },
    // exact 64-bit arithmetic (a string value in `+` would make it a double); a sequence within
    // `skip` of 2^64 − 1 keeps its place: moving it would overflow (error 1690)
    skip: {
      sql: `UPDATE ${idSegmentsTable(meta)} SET next_id = next_id + CAST(? AS UNSIGNED), leased_at = NOW(6) WHERE next_id <= CAST(? AS UNSIGNED)`,
      values: [skip.toString(), (MAX_NEXT_ID - skip).toString()],
    },
  };
}

/** One statement and its bound values. */
interface BoundSql {
  sql: string;
  values: readonly unknown[];
}

/**
 * Moves every sequence of `<meta>.id_segments` on the node `query` talks to forward by
 * {@link ID_FAILOVER_SKIP}, when the table is there: run by an unplanned failover on the promoted
 * node, so that a lease the dead primary granted but never replicated is not granted again.
 * Returns the sequences moved (0 without the table).
 */
export async function skipLostIdLeases(
  query: (sql: string, values: readonly unknown[]) => Promise<Record<string, unknown>[]>,
  meta: string,
  skip: bigint = ID_FAILOVER_SKIP,
): Promise<number> {
  const sql = failoverSkipSql(meta, skip);
  const [row] = await query(sql.exists.sql, sql.exists.values);
  if (Number(row?.['n'] ?? 0) === 0) return 0;
  const [ok] = await query(sql.skip.sql, sql.skip.values);
  return Number(ok?.['affectedRows'] ?? 0);
}
