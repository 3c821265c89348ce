const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** Fractional seconds with exactly `fsp` digits (SELECT's format), from microseconds. */
function fraction(micros: number, fsp: number): string {
  return fsp > 0 ? `.${pad(micros, 6).slice(0, fsp)}` : '';
}

/** Bytes of the fractional part for a given fsp. */
export function fspBytes(fsp: number): number {
  return Math.floor((fsp + 1) / 2);
}

/** Reads the fractional part of TIME2/DATETIME2/TIMESTAMP2 as microseconds (signed for TIME2/DATETIME2). */
function readFrac(buf: Buffer, offset: number, fsp: number, signed: boolean): number {
  switch (fspBytes(fsp)) {
    case 0:
      return 0;
    case 1:
      return (signed ? buf.readInt8(offset) : buf.readUInt8(offset)) * 10000;
    case 2:
      return (signed ? buf.readInt16BE(offset) : buf.readUInt16BE(offset)) * 100;
    default:
      return signed ? buf.readIntBE(offset, 3) : buf.readUIntBE(offset, 3);
  }
}

/**
 * DATETIME2: 5 bytes big-endian (offset 0x8000000000: sign, 17 bits year*13+month, 5 day, 5 hour,
 * 6 minute, 6 second) + fraction; never shifted by any time zone. The integer and fractional parts
 * are kept apart: packed together they need 64 bits, more than a double holds exactly.
 */
export function decodeDatetime2(buf: Buffer, offset: number, fsp: number): string {
  const intpart = buf.readUIntBE(offset, 5) - 0x8000000000;
  const frac = readFrac(buf, offset + 5, fsp, true);
  if (intpart < 0 || frac < 0) {
    // Not produced by the server for a DATETIME; decoded the way MySQL unpacks it.
    const text = formatPackedDatetime((BigInt(intpart) << 24n) + BigInt(frac), 'datetime');
    return fsp > 0 ? text.slice(0, text.length - 6 + fsp) : text.slice(0, text.length - 7);
  }
  const ymd = Math.floor(intpart / 2 ** 17);
  const ym = Math.floor(ymd / 32);
  const hms = intpart % 2 ** 17;
  const day = ymd % 32;
  const month = ym % 13;
  const year = Math.floor(ym / 13);
  const second = hms % 64;
  const minute = Math.floor(hms / 64) % 64;
  const hour = Math.floor(hms / 4096);
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)} ${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${fraction(frac, fsp)}`;
}

/** TIME2: 3 bytes big-endian (offset 0x800000) + fraction; negative times with fractions are stored inverted. */
export function decodeTime2(buf: Buffer, offset: number, fsp: number): string {
  let packed: number;
  const bytes = fspBytes(fsp);
  if (bytes === 3) {
    packed = buf.readUIntBE(offset, 6) - 0x800000000000;
  } else {
    let intpart = buf.readUIntBE(offset, 3) - 0x800000;
    let frac = bytes === 0 ? 0 : bytes === 1 ? buf.readUInt8(offset + 3) : buf.readUInt16BE(offset + 3);
    if (intpart < 0 && frac > 0) {
      intpart++;
      frac -= bytes === 1 ? 0x100 : 0x10000;
    }
    packed = intpart * 2 ** 24 + frac * (bytes === 1 ? 10000 : bytes === 2 ? 100 : 1);
  }
  const negative = packed < 0;
  if (negative) packed = -packed;
  const hms = Math.floor(packed / 2 ** 24);
  const micros = packed % 2 ** 24;
  const hour = Math.floor(hms / 4096) % 1024;
  const minute = Math.floor(hms / 64) % 64;
  const second = hms % 64;
  return `${negative ? '-' : ''}${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${fraction(micros, fsp)}`;
}

/** Seconds and microseconds since the epoch of a TIMESTAMP2. */
export function readTimestamp2(buf: Buffer, offset: number, fsp: number): { seconds: number; micros: number } {
  return { seconds: buf.readUInt32BE(offset), micros: readFrac(buf, offset + 4, fsp, false) };
}

/** A TIMESTAMP as SELECT prints it under time_zone '+00:00' (zero stays the zero date). */
export function formatTimestamp(seconds: number, micros: number, fsp: number): string {
  if (seconds === 0 && micros === 0) return `0000-00-00 00:00:00${fraction(0, fsp)}`;
  const d = new Date(seconds * 1000);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)} ${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}${fraction(micros, fsp)}`;
}

/** DATE: 3 bytes little-endian, day | month << 5 | year << 9. */
export function decodeDate(buf: Buffer, offset: number): string {
  const v = buf.readUIntLE(offset, 3);
  return `${pad(v >> 9, 4)}-${pad((v >> 5) & 15, 2)}-${pad(v & 31, 2)}`;
}

/** Packed DATETIME/TIME as in JSON opaque values and MySQL's longlong packing (8 bytes LE). */
export function formatPackedDatetime(packedIn: bigint, kind: 'date' | 'datetime' | 'time'): string {
  let packed = packedIn;
  const negative = packed < 0n;
  if (negative) packed = -packed;
  const intPart = Number(packed >> 24n);
  const micros = Number(packed % (1n << 24n));
  if (kind === 'time') {
    const hour = Math.floor(intPart / 4096) % 1024;
    const minute = Math.floor(intPart / 64) % 64;
    const second = intPart % 64;
    return `${negative ? '-' : ''}${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}.${pad(micros, 6)}`;
  }
  const ymd = Math.floor(intPart / 2 ** 17);
  const ym = Math.floor(ymd / 32);
  const hms = intPart % 2 ** 17;
  const date = `${pad(Math.floor(ym / 13), 4)}-${pad(ym % 13, 2)}-${pad(ymd % 32, 2)}`;
  if (kind === 'date') return date;
  return `${date} ${pad(Math.floor(hms / 4096), 2)}:${pad(Math.floor(hms / 64) % 64, 2)}:${pad(hms % 64, 2)}.${pad(micros, 6)}`;
}
