import mysql from 'mysql2';
import type { Connection, Query, QueryError } from 'mysql2';

/** mysql2's result callback, as the query command calls it. */
export type QueryCallback = (err: QueryError | null, result: unknown, fields: unknown) => void;

interface QueryFactory {
  createQuery(sql: string, values: unknown[] | undefined, cb: QueryCallback, config: unknown): Query & { timeout?: number };
}

/**
 * Starts `sql` on `conn` with mysql2's inactivity `timeoutMs` (none when 0 or undefined) and
 * returns the command. The same as `conn.query({ sql, values, timeout }, cb)`, built through
 * mysql2's string form: the options-object form costs ~3.5 µs more per query (two object
 * spreads in `createQuery`; measured 3.4–3.7 µs vs 0.09 µs), a tenth of a routed point SELECT's
 * client CPU on a fast host.
 */
export function startQuery(
  conn: Connection,
  sql: string,
  values: unknown[] | undefined,
  timeoutMs: number | undefined,
  cb: QueryCallback,
): Query {
  const cmd = (mysql.Connection as unknown as QueryFactory).createQuery(sql, values, cb, (conn as unknown as { config: unknown }).config);
  if (timeoutMs) cmd.timeout = timeoutMs;
  return conn.query(cmd as never) as unknown as Query;
}
