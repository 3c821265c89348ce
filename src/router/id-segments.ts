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
