import { compareDecimal } from './decimal.js';

const DECIMAL_TYPES = new Set([0, 246]);

/**
 * Orders two column values as MySQL would for the same type: NULL first, numbers and bigints
 * numerically, DECIMAL texts exactly, Buffers bytewise, other strings by code unit (which
 * matches binary collations; case-insensitive collations may order ties differently).
 */
export function compareValues(a: unknown, b: unknown, columnType: number): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'bigint' || typeof b === 'bigint' || (typeof a === 'number' && typeof b === 'number')) {
    const x = typeof a === 'bigint' || typeof a === 'number' ? a : Number(a);
    const y = typeof b === 'bigint' || typeof b === 'number' ? b : Number(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return Buffer.compare(a, b);
  if (typeof a === 'string' && typeof b === 'string') {
    if (DECIMAL_TYPES.has(columnType)) return compareDecimal(a, b);
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}
