import { TruncatedError } from './byte-reader.js';

const DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/** Bytes a DECIMAL(precision, scale) takes in the binlog. */
export function decimalBinarySize(precision: number, scale: number): number {
  const intg = precision - scale;
  return Math.floor(intg / 9) * 4 + DIG2BYTES[intg % 9]! + Math.floor(scale / 9) * 4 + DIG2BYTES[scale % 9]!;
}

/**
 * MySQL's binary DECIMAL to its exact text, as SELECT prints it (`-1.500` for DECIMAL(4,3)):
 * 9 digits per 4 bytes, a leading partial group, the sign bit flipped and negatives inverted.
 */
export function decodeDecimal(buf: Buffer, offset: number, precision: number, scale: number): string {
  const size = decimalBinarySize(precision, scale);
  if (offset + size > buf.length) throw new TruncatedError('DECIMAL value truncated');
  if (precision < 1 || precision > 65 || scale > 30 || scale > precision) throw new TruncatedError(`invalid DECIMAL(${precision},${scale})`);
  const b = Buffer.from(buf.subarray(offset, offset + size));
  const negative = (b[0]! & 0x80) === 0;
  b[0]! ^= 0x80;
  if (negative) for (let i = 0; i < b.length; i++) b[i] = b[i]! ^ 0xff;
  const intg = precision - scale;
  const intg0 = Math.floor(intg / 9);
  const intg0x = intg % 9;
  const frac0 = Math.floor(scale / 9);
  const frac0x = scale % 9;
  let pos = 0;
  const take = (n: number) => {
    const v = n === 0 ? 0 : b.readUIntBE(pos, n);
    pos += n;
    return v;
  };
  let int = '';
  if (intg0x > 0) int += String(take(DIG2BYTES[intg0x]!));
  for (let i = 0; i < intg0; i++) {
    const v = String(take(4));
    int += int === '' ? v : v.padStart(9, '0');
  }
  int = int.replace(/^0+/, '') || '0';
  let frac = '';
  for (let i = 0; i < frac0; i++) frac += String(take(4)).padStart(9, '0');
  if (frac0x > 0) frac += String(take(DIG2BYTES[frac0x]!)).padStart(frac0x, '0');
  return `${negative ? '-' : ''}${int}${scale > 0 ? `.${frac}` : ''}`;
}
