import type { SinkRecord } from '../sink-record.js';
import type { ArchiveRow } from './archive-rows.js';

/** A record with its archive rows: the unit a transaction holds (a record is never split). */
export interface ArchiveUnit {
  record: SinkRecord;
  rows: ArchiveRow[];
  bytes: number;
}

/** Limits of one archive transaction. */
export interface BatchLimits {
  maxRows: number;
  maxBytes: number;
}

/** Makes a unit from a record's rows. */
export function archiveUnit(record: SinkRecord, rows: ArchiveRow[]): ArchiveUnit {
  return { record, rows, bytes: rows.reduce((n, r) => n + r.bytes, 0) };
}

/**
 * Splits units, in order, into transactions of at most `maxRows` rows and `maxBytes` bytes
 * (TiDB's txn-total-size-limit). A unit alone beyond a limit gets a transaction of its own.
 */
export function planTransactions(units: readonly ArchiveUnit[], limits: BatchLimits): ArchiveUnit[][] {
  const out: ArchiveUnit[][] = [];
  let current: ArchiveUnit[] = [];
  let rows = 0;
  let bytes = 0;
  for (const u of units) {
    if (current.length > 0 && (rows + u.rows.length > limits.maxRows || bytes + u.bytes > limits.maxBytes)) {
      out.push(current);
      current = [];
      rows = 0;
      bytes = 0;
    }
    current.push(u);
    rows += u.rows.length;
    bytes += u.bytes;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * Groups a transaction's rows into statements: rows of one table with the same column list, in
 * order of first appearance, each group cut at `maxRows` rows and `maxBytes` bytes per statement.
 * Rows of one key keep their relative order (the version guard makes the result independent of it
 * anyway).
 */
export function groupStatements(rows: readonly ArchiveRow[], limits: BatchLimits): ArchiveRow[][] {
  const groups = new Map<string, ArchiveRow[]>();
  for (const r of rows) {
    const key = `${r.table}\0${r.columns.join('\0')}`;
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  const out: ArchiveRow[][] = [];
  for (const g of groups.values()) {
    let chunk: ArchiveRow[] = [];
    let bytes = 0;
    for (const r of g) {
      if (chunk.length > 0 && (chunk.length >= limits.maxRows || bytes + r.bytes > limits.maxBytes)) {
        out.push(chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(r);
      bytes += r.bytes;
    }
    if (chunk.length > 0) out.push(chunk);
  }
  return out;
}
