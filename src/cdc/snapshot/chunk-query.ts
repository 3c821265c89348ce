import { SnapshotError } from './snapshot-error.js';

/** A column a chunk reads, with what its SELECT needs to know. */
export interface ChunkColumn {
  name: string;
  /** FLOAT columns are read widened (`col + 0e0`): SELECT prints a FLOAT with six digits only. */
  float32: boolean;
}

/** One chunk's statement and its bound values. */
export interface ChunkQuery {
  sql: string;
  params: unknown[];
}

const quoteIdent = (name: string): string => `\`${name.replace(/`/g, '``')}\``;

/**
 * The keyset predicate "primary key after `after`" in expanded form: `(a > ?) OR (a = ? AND b > ?)`
 * — MySQL and MariaDB both use a range scan of the primary key for it (MariaDB does not for the
 * row constructor `(a, b) > (?, ?)`). Pure.
 */
export function keysetPredicate(primaryKey: readonly string[], after: readonly unknown[]): ChunkQuery {
  const branches: string[] = [];
  const params: unknown[] = [];
  for (let i = 0; i < primaryKey.length; i++) {
    const parts: string[] = [];
    for (let j = 0; j < i; j++) {
      parts.push(`${quoteIdent(primaryKey[j]!)} = ?`);
      params.push(after[j]);
    }
    parts.push(`${quoteIdent(primaryKey[i]!)} > ?`);
    params.push(after[i]);
    branches.push(parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`);
  }
  return { sql: branches.length === 1 ? branches[0]! : `(${branches.join(' OR ')})`, params };
}

/**
 * The SELECT of one chunk: every column in primary-key order, after the last key of the previous
 * chunk (`after`, null for the first), at most `limit` rows. Values are bound, identifiers quoted.
 * Pure.
 */
export function chunkQuery(
  table: { database: string; table: string; columns: readonly ChunkColumn[]; primaryKey: readonly string[] },
  after: readonly unknown[] | null,
  limit: number,
): ChunkQuery {
  const name = `${table.database}.${table.table}`;
  if (table.primaryKey.length === 0) throw new SnapshotError('SNAPSHOT_TABLE', `${name} has no primary key: it cannot be read in chunks`);
  if (after !== null && after.length !== table.primaryKey.length)
    throw new SnapshotError(
      'SNAPSHOT_TABLE',
      `${name}: the stored last key has ${after.length} columns, the primary key ${table.primaryKey.length}`,
    );
  if (!Number.isInteger(limit) || limit < 1) throw new SnapshotError('SNAPSHOT_TABLE', `${name}: chunk size must be a positive integer`);
  const list = table.columns
    .map((c) => (c.float32 ? `(${quoteIdent(c.name)} + 0e0) AS ${quoteIdent(c.name)}` : quoteIdent(c.name)))
    .join(', ');
  const where = after === null ? null : keysetPredicate(table.primaryKey, after);
  const order = table.primaryKey.map(quoteIdent).join(', ');
  return {
    sql: `SELECT ${list} FROM ${quoteIdent(table.database)}.${quoteIdent(table.table)}${where ? ` WHERE ${where.sql}` : ''} ORDER BY ${order} LIMIT ${limit}`,
    params: where ? where.params : [],
  };
}
