import { qualifiedName, quoteIdent } from './archive-ddl.js';
import type { ArchiveRow } from './archive-rows.js';
import type { ArchiveParam } from './archive-values.js';

/** One multi-row upsert statement and its bound values. */
export interface UpsertStatement {
  table: string;
  sql: string;
  values: ArchiveParam[];
  rows: ArchiveRow[];
}

const GUARD = 'VALUES(`_version`) > `_version`';

/**
 * The version-guarded assignment list of `ON DUPLICATE KEY UPDATE`: every non-key column and the
 * bookkeeping take the incoming value only when the incoming `_version` is greater than the
 * stored one; `_version` is assigned LAST (MySQL evaluates the assignments left to right and a
 * later one sees the earlier ones' new values, so every guard must still read the old version).
 * A replay of the same version, or an older one, changes nothing.
 */
export function guardedAssignments(columns: readonly string[], primaryKey: readonly string[]): string {
  const key = new Set(primaryKey.map((k) => k.toLowerCase()));
  const guarded = [...columns.filter((c) => !key.has(c.toLowerCase())), '_shard', '_deleted', '_archived', '_archived_at'].map((c) => {
    const q = quoteIdent(c);
    return `${q} = IF(${GUARD}, VALUES(${q}), ${q})`;
  });
  guarded.push('`_version` = GREATEST(`_version`, VALUES(`_version`))');
  return guarded.join(', ');
}

/**
 * `INSERT INTO db.t (cols…, _shard, _version, _deleted, _archived, _archived_at) VALUES (?, …, UTC_TIMESTAMP(6)), …
 * ON DUPLICATE KEY UPDATE <guarded assignments>` for rows of one table with the same column list.
 * Values are bound (`?`), identifiers quoted; VALUES() rather than the row alias because TiDB
 * supports only the former.
 */
export function buildUpsert(database: string, primaryKey: readonly string[], rows: readonly ArchiveRow[]): UpsertStatement {
  const first = rows[0];
  if (!first) throw new RangeError('an upsert needs at least one row');
  const signature = first.columns.join('\0');
  const values: ArchiveParam[] = [];
  for (const r of rows) {
    if (r.table !== first.table || r.columns.join('\0') !== signature)
      throw new RangeError('rows of one upsert must share table and columns');
    values.push(...r.values, r.shard, r.version, r.deleted ? 1 : 0, r.archived ? 1 : 0);
  }
  const tuple = `(${first.columns.map(() => '?').join(', ')}${first.columns.length ? ', ' : ''}?, ?, ?, ?, UTC_TIMESTAMP(6))`;
  const cols = [...first.columns, '_shard', '_version', '_deleted', '_archived', '_archived_at'].map(quoteIdent).join(', ');
  const sql =
    `INSERT INTO ${qualifiedName(database, first.table)} (${cols}) VALUES ` +
    rows.map(() => tuple).join(', ') +
    ` ON DUPLICATE KEY UPDATE ${guardedAssignments(first.columns, primaryKey)}`;
  return { table: first.table, sql, values, rows: [...rows] };
}

/** What one upsert did, from its affected-rows count and info text, when the server says enough. */
export interface UpsertOutcome {
  inserted: number;
  updated: number;
  /** Rows the version guard left unchanged (older or replayed versions); null when unknown. */
  stale: number | null;
}

/**
 * Reads an upsert's effect. Without CLIENT_FOUND_ROWS a row counts 1 when inserted, 2 when
 * updated, 0 when left as it was; a multi-row INSERT's info text adds `Duplicates:` (the rows
 * updated). A single row is decided by its count alone.
 */
export function upsertOutcome(rowCount: number, affectedRows: number, info: string): UpsertOutcome {
  if (rowCount === 1) {
    if (affectedRows === 0) return { inserted: 0, updated: 0, stale: 1 };
    if (affectedRows === 1) return { inserted: 1, updated: 0, stale: 0 };
    return { inserted: 0, updated: 1, stale: 0 };
  }
  const m = /Records:\s*(\d+)\s+Duplicates:\s*(\d+)/.exec(info);
  if (m) {
    const updated = Number(m[2]);
    const inserted = affectedRows - 2 * updated;
    const stale = rowCount - inserted - updated;
    if (inserted >= 0 && stale >= 0) return { inserted, updated, stale };
  }
  return { inserted: 0, updated: 0, stale: null };
}
