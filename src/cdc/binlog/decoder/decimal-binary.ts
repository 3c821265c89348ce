import { TruncatedError } from './byte-reader.js';

const DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/** Bytes a DECIMAL(precision, scale) takes in the binlog. */
export function decimalBinarySize(precision: number, scale: number): number {
  const intg = precision - scale;
  return Math.floor(intg / 9) * 4 + DIG2BYTES[intg % 9]! + Math.floor(scale / 9) * 4 + DIG2BYTES[scale % 9]!;
}

/** 10 ** n for n = 0…9. */
const POW10 = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

/** `v` zero-padded to `digits` digits (left longer when it does not fit). */
function padDigits(v: number, digits: number): string {
  const p = POW10[digits]!;
  return v < p ? String(p + v).slice(1) : String(v);
}

/** Whether DECIMAL(precision, scale) is one the decoder accepts; checked once per column. */
export function validDecimal(precision: number, scale: number): boolean {
  return !(precision < 1 || precision > 65 || scale > 30 || scale > precision);
}

/** The error for a DECIMAL(precision, scale) {@link validDecimal} refuses. */
export function invalidDecimal(precision: number, scale: number): TruncatedError {
  return new TruncatedError(`invalid DECIMAL(${precision},${scale})`);
}

/**
 * MySQL's binary DECIMAL to its exact text, as SELECT prints it (`-1.500` for DECIMAL(4,3)):
 * 9 digits per 4 bytes, a leading partial group, the sign bit flipped and negatives inverted.
 */
export function decodeDecimal(buf: Buffer, offset: number, precision: number, scale: number): string {
  const size = decimalBinarySize(precision, scale);
  if (offset + size > buf.length) throw new TruncatedError('DECIMAL value truncated');
  if (!validDecimal(precision, scale)) throw invalidDecimal(precision, scale);
  return decodeDecimalChecked(buf, offset, precision, scale);
}

/** The sign bit of the first byte of a group of 1–4 bytes. */
const SIGN_BIT = [0, 0x80, 0x8000, 0x800000, 0x80000000];

/** `n` (1–4) big-endian bytes at `at`, each XORed with `mask`, as an unsigned number. */
function group(buf: Buffer, at: number, n: number, mask: number): number {
  switch (n) {
    case 1:
      return buf[at]! ^ mask;
    case 2:
      return ((buf[at]! ^ mask) << 8) | (buf[at + 1]! ^ mask);
    case 3:
      return ((buf[at]! ^ mask) << 16) | ((buf[at + 1]! ^ mask) << 8) | (buf[at + 2]! ^ mask);
    default:
      return (((buf[at]! ^ mask) << 24) | ((buf[at + 1]! ^ mask) << 16) | ((buf[at + 2]! ^ mask) << 8) | (buf[at + 3]! ^ mask)) >>> 0;
  }
}

/**
 * {@link decodeDecimal} for a precision and scale {@link validDecimal} accepted and
 * `decimalBinarySize` bytes known to be in `buf` at `offset`. Reads the bytes in place: a negative
 * value's bytes are inverted by XOR with a mask, and the sign bit is flipped back in the first group.
 */
export function decodeDecimalChecked(buf: Buffer, offset: number, precision: number, scale: number): string {
  const negative = (buf[offset]! & 0x80) === 0;
  const mask = negative ? 0xff : 0;
  const intg = precision - scale;
  const intg0 = Math.floor(intg / 9);
  const intg0x = intg % 9;
  const frac0 = Math.floor(scale / 9);
  const frac0x = scale % 9;
  let pos = offset;
  let v: number;
  // Integer part: leading zero groups skipped, the first non-zero group unpadded.
  let int = '';
  if (intg0x > 0) {
    const n = DIG2BYTES[intg0x]!;
    v = (group(buf, pos, n, mask) ^ SIGN_BIT[n]!) >>> 0;
    pos += n;
    if (v !== 0) int = String(v);
  }
  for (let i = 0; i < intg0; i++) {
    v = group(buf, pos, 4, mask);
    if (pos === offset) v = (v ^ 0x80000000) >>> 0;
    pos += 4;
    if (int !== '') int += padDigits(v, 9);
    else if (v !== 0) int = String(v);
  }
  if (int === '') int = '0';
  if (scale === 0) return negative ? `-${int}` : int;
  let frac = '';
  for (let i = 0; i < frac0; i++) {
    v = group(buf, pos, 4, mask);
    if (pos === offset) v = (v ^ 0x80000000) >>> 0;
    pos += 4;
    frac += padDigits(v, 9);
  }
  if (frac0x > 0) {
    const n = DIG2BYTES[frac0x]!;
    v = group(buf, pos, n, mask);
    if (pos === offset) v = (v ^ SIGN_BIT[n]!) >>> 0;
    frac += padDigits(v, frac0x);
  }
  return `${negative ? '-' : ''}${int}.${frac}`;
}
