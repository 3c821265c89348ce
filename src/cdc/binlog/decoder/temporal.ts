/** '00'…'99'. */
const D2: string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : String(i)));

/** `n` zero-padded to `w` digits (longer when it does not fit, as String#padStart leaves it). */
const padSlow = (n: number, w: number) => String(n).padStart(w, '0');

/** Two digits (table lookup for 0–99). */
function pad2(n: number): string {
  return n >= 0 && n < 100 ? D2[n]! : padSlow(n, 2);
}

/** Four digits (two table lookups for 0–9999). */
function pad4(n: number): string {
  return n >= 0 && n < 10000 ? D2[(n / 100) | 0]! + D2[n % 100]! : padSlow(n, 4);
}

/** Six digits. */
function pad6(n: number): string {
  return n >= 0 && n < 1_000_000 ? String(1_000_000 + n).slice(1) : padSlow(n, 6);
}

/** '.000'…'.999', '000'…'999', '.00'…'.99', '.0'…'.9', '0'…'9': fractions by table lookup. */
const DOT3: string[] = Array.from({ length: 1000 }, (_, i) => `.${String(i).padStart(3, '0')}`);
const D3: string[] = DOT3.map((s) => s.slice(1));
const DOT2: string[] = D2.map((s) => `.${s}`);
const DOT1: string[] = Array.from({ length: 10 }, (_, i) => `.${i}`);
const D1: string[] = Array.from({ length: 10 }, (_, i) => String(i));

/** Fractional seconds with exactly `fsp` digits (SELECT's format), from microseconds. */
function fraction(micros: number, fsp: number): string {
  if (fsp <= 0) return '';
  if (!(micros >= 0 && micros < 1_000_000)) return `.${padSlow(micros, 6).slice(0, fsp)}`;
  const high = (micros / 1000) | 0;
  const low = micros % 1000;
  switch (fsp) {
    case 1:
      return DOT1[(micros / 100_000) | 0]!;
    case 2:
      return DOT2[(micros / 10_000) | 0]!;
    case 3:
      return DOT3[high]!;
    case 4:
      return DOT3[high]! + D1[(low / 100) | 0]!;
    case 5:
      return DOT3[high]! + D2[(low / 10) | 0]!;
    default:
      return DOT3[high]! + D3[low]!;
  }
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

/** Up to the minute: the key and text of the last DATETIME2 decoded. */
let datetimeKey = -1;
let datetimePrefix = '';

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
  // Everything but the seconds: consecutive values usually share it, so its text is kept.
  const upToMinute = Math.floor(intpart / 64);
  if (upToMinute !== datetimeKey) {
    const ymd = Math.floor(intpart / 2 ** 17);
    const ym = Math.floor(ymd / 32);
    const hms = intpart % 2 ** 17;
    datetimePrefix = `${pad4(Math.floor(ym / 13))}-${pad2(ym % 13)}-${pad2(ymd % 32)} ${pad2(Math.floor(hms / 4096))}:${pad2(Math.floor(hms / 64) % 64)}:`;
    datetimeKey = upToMinute;
  }
  return datetimePrefix + pad2(intpart % 64) + fraction(frac, fsp);
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
  return `${negative ? '-' : ''}${pad2(hour)}:${pad2(minute)}:${pad2(second)}${fraction(micros, fsp)}`;
}

/** Seconds and microseconds since the epoch of a TIMESTAMP2. */
export function readTimestamp2(buf: Buffer, offset: number, fsp: number): { seconds: number; micros: number } {
  return { seconds: buf.readUInt32BE(offset), micros: readFrac(buf, offset + 4, fsp, false) };
}

/** The microseconds of a TIMESTAMP2 at `offset` (its fraction follows 4 bytes of seconds). */
export function readTimestamp2Fraction(buf: Buffer, offset: number, fsp: number): number {
  return readFrac(buf, offset + 4, fsp, false);
}

/** Seconds of the last day a JavaScript Date can hold (8.64e15 ms after the epoch). */
const MAX_DATE_SECONDS = 8_640_000_000_000;

/** Minutes since the epoch and their text, of the last TIMESTAMP formatted. */
let timestampKey = -1;
let timestampPrefix = '';

/**
 * "YYYY-MM-DD HH:MM:" of a minute since the epoch (UTC, proleptic Gregorian), by Howard Hinnant's
 * civil-from-days; minutes ≥ 0.
 */
function minutePrefix(minutes: number): string {
  const days = Math.floor(minutes / 1440);
  const minuteOfDay = minutes - days * 1440;
  const z = days + 719_468; // days since 0000-03-01
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097; // [0, 146096]
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365); // [0, 399]
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100)); // [0, 365], from March 1st
  const mp = Math.floor((5 * doy + 2) / 153); // [0, 11], March = 0
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return `${pad4(year)}-${pad2(month)}-${pad2(day)} ${pad2(Math.floor(minuteOfDay / 60))}:${pad2(minuteOfDay % 60)}:`;
}

/** A TIMESTAMP as SELECT prints it under time_zone '+00:00' (zero stays the zero date). */
export function formatTimestamp(seconds: number, micros: number, fsp: number): string {
  if (seconds === 0 && micros === 0) return `0000-00-00 00:00:00${fraction(0, fsp)}`;
  if (!(Number.isInteger(seconds) && seconds >= 0 && seconds <= MAX_DATE_SECONDS)) {
    // Not a server's TIMESTAMP (those are 32-bit seconds): printed the way a Date reads it.
    const d = new Date(seconds * 1000);
    return `${pad4(d.getUTCFullYear())}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}${fraction(micros, fsp)}`;
  }
  // Consecutive timestamps usually share their minute, so its text is kept.
  const minutes = Math.floor(seconds / 60);
  if (minutes !== timestampKey) {
    timestampPrefix = minutePrefix(minutes);
    timestampKey = minutes;
  }
  return timestampPrefix + pad2(seconds - minutes * 60) + fraction(micros, fsp);
}

/** The last DATE decoded and its text. */
let dateKey = -1;
let dateText = '';

/** DATE: 3 bytes little-endian, day | month << 5 | year << 9. */
export function decodeDate(buf: Buffer, offset: number): string {
  const v = buf.readUIntLE(offset, 3);
  if (v !== dateKey) {
    dateText = `${pad4(v >> 9)}-${pad2((v >> 5) & 15)}-${pad2(v & 31)}`;
    dateKey = v;
  }
  return dateText;
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
    return `${negative ? '-' : ''}${pad2(hour)}:${pad2(minute)}:${pad2(second)}.${pad6(micros)}`;
  }
  const ymd = Math.floor(intPart / 2 ** 17);
  const ym = Math.floor(ymd / 32);
  const hms = intPart % 2 ** 17;
  const date = `${pad4(Math.floor(ym / 13))}-${pad2(ym % 13)}-${pad2(ymd % 32)}`;
  if (kind === 'date') return date;
  return `${date} ${pad2(Math.floor(hms / 4096))}:${pad2(Math.floor(hms / 64) % 64)}:${pad2(hms % 64)}.${pad6(micros)}`;
}
