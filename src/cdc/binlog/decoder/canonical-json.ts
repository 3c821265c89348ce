import { setColumn, type RowImage } from './rows.js';
import { GeometryValue, TimestampValue, type BinlogValue } from './values.js';

/** A value in the canonical JSON encoding (schemas/canonical-values.md). */
export type CanonicalValue = null | number | string | { srid: number; wkb: string };

/**
 * The canonical JSON encoding of a decoded value: BIGINT and BIT as decimal strings, DECIMAL and
 * temporal values as SELECT prints them, binary strings as base64, SET labels joined by ',',
 * GEOMETRY as { srid, wkb }. Numbers that JSON can carry exactly stay numbers.
 */
export function canonicalValue(v: BinlogValue): CanonicalValue {
  if (v === null || typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (Array.isArray(v)) return v.join(',');
  if (v instanceof TimestampValue) return v.text;
  if (v instanceof GeometryValue) return { srid: v.srid, wkb: v.wkb.toString('base64') };
  throw new TypeError(`not a binlog value: ${String(v)}`);
}

/** A whole row image in the canonical encoding. */
export function canonicalRow(row: RowImage | null): Record<string, CanonicalValue> | null {
  if (row === null) return null;
  const out: Record<string, CanonicalValue> = {};
  for (const k in row) setColumn(out, k, canonicalValue(row[k]!));
  return out;
}
