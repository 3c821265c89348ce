import { InvalidUidError } from '../errors/index.js';

/** A UID as callers pass it: a bigint, a safe non-negative integer, or canonical decimal text. */
export type Uid = bigint | number | string;

const MAX_UID = 18446744073709551615n;
const MAX_TEXT = '18446744073709551615';
const CANONICAL = /^(0|[1-9][0-9]{0,19})$/;

/** The shape of a rejected UID, never its value (a UID is a bound value and may be user input). */
function describe(value: unknown): string {
  if (typeof value === 'string') return `(a string of ${value.length} characters)`;
  if (typeof value === 'bigint') return value < 0n ? '(a negative bigint)' : `(a bigint of ${value.toString().length} digits)`;
  if (typeof value === 'number')
    return Number.isNaN(value)
      ? '(NaN)'
      : value < 0
        ? `(a negative ${Number.isInteger(value) ? 'integer' : 'fractional'} number)`
        : Number.isInteger(value)
          ? '(an integer number)'
          : '(a fractional number)';
  return `(${typeof value})`;
}

/**
 * The canonical decimal text of a UID (what the hash reads and what MySQL's `CRC32()` sees).
 * Accepts bigint and safe integers in 0 … 2^64−1 and decimal strings without sign, spaces or
 * leading zeros.
 * @throws {InvalidUidError} for anything else: floats, negatives, NaN, empty, leading zeros, too long.
 */
export function canonicalUid(uid: unknown): string {
  if (typeof uid === 'bigint') {
    if (uid < 0n || uid > MAX_UID) throw new InvalidUidError(`UID ${describe(uid)} is outside 0 … 2^64−1`);
    return uid.toString();
  }
  if (typeof uid === 'number') {
    if (!Number.isInteger(uid) || uid < 0) throw new InvalidUidError(`UID ${describe(uid)} is not a non-negative integer`);
    if (!Number.isSafeInteger(uid))
      throw new InvalidUidError(`UID ${describe(uid)} is beyond 2^53−1; pass it as a bigint or a decimal string`);
    return String(uid);
  }
  if (typeof uid === 'string') {
    if (!CANONICAL.test(uid)) {
      if (/^[1-9][0-9]{20,}$/.test(uid)) throw new InvalidUidError(`UID ${describe(uid)} is outside 0 … 2^64−1`);
      throw new InvalidUidError(`UID ${describe(uid)} is not canonical decimal text (digits only, no sign, spaces or leading zeros)`);
    }
    if (uid.length === 20 && uid > MAX_TEXT) throw new InvalidUidError(`UID ${describe(uid)} is outside 0 … 2^64−1`);
    return uid;
  }
  throw new InvalidUidError(`UID must be a bigint, a safe integer or a decimal string, got ${uid === null ? 'null' : typeof uid}`);
}
