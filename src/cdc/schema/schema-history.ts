import { BinlogError } from '../../errors/index.js';
import type { TableMap } from '../binlog/decoder/table-map.js';
import { ddlEffect } from './ddl-targets.js';

interface KnownTable {
  signature: string;
  since: { file: string; pos: number };
}

/** Signatures of the TABLE_MAPs seen (the decoder hands out one map object per distinct TABLE_MAP). */
const signatures = new WeakMap<TableMap, string>();

function signature(map: TableMap): string {
  let sig = signatures.get(map);
  if (sig === undefined) signatures.set(map, (sig = columnsSignature(map)));
  return sig;
}

function columnsSignature(map: TableMap): string {
  return map.columns
    .map(
      (c) =>
        `${c.name}:${c.type}/${c.realType}/${c.meta}/${c.unsigned ? 'u' : 's'}/${c.collation}/${(c.enumValues ?? c.setValues ?? []).join('|')}`,
    )
    .join(',');
}

/**
 * The schema of every table as the binlog has described it so far, versioned by position and
 * advanced by the DDL in the stream (never read from INFORMATION_SCHEMA). Names, signedness,
 * charsets and labels come from the TABLE_MAP's optional metadata (binlog_row_metadata=FULL);
 * a TABLE_MAP without them, or one that changes a table's layout with no DDL in between, is a
 * {@link BinlogError} BINLOG_SCHEMA. Pure.
 */
export class SchemaHistory {
  private readonly tables = new Map<string, KnownTable>();

  /** Checks a TABLE_MAP against what is known and records it. @throws {BinlogError} */
  tableMap(map: TableMap, at: { file: string; pos: number }): void {
    const key = `${map.database}.${map.table}`;
    if (!map.hasNames) {
      throw new BinlogError(
        'BINLOG_SCHEMA',
        `TABLE_MAP of ${key} carries no column names: it was written while binlog_row_metadata was not FULL, and shardline does not guess names from today's schema; start after the point where binlog_row_metadata=FULL was set`,
        at,
      );
    }
    const sig = signature(map);
    const known = this.tables.get(key);
    if (known && known.signature !== sig) {
      throw new BinlogError(
        'BINLOG_SCHEMA',
        `TABLE_MAP of ${key} disagrees with its schema known since ${known.since.file}:${known.since.pos} and no DDL on it came in between (was ${known.signature}; now ${sig})`,
        at,
      );
    }
    if (!known) this.tables.set(key, { signature: sig, since: at });
  }

  /** Advances the history by a statement of the stream: forgets what it may have changed. */
  query(sql: string, database: string): void {
    const effect = ddlEffect(sql, database);
    if (effect.kind === 'none') return;
    if (effect.kind === 'unknown') this.tables.clear();
    else if (effect.kind === 'database') {
      for (const key of this.tables.keys()) if (key.startsWith(`${effect.database}.`)) this.tables.delete(key);
    } else for (const t of effect.tables) this.tables.delete(`${t.database}.${t.table}`);
  }

  /** How many tables are known (for metrics and tests). */
  get size(): number {
    return this.tables.size;
  }
}
