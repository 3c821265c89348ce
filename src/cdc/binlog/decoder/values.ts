import { TextDecoder, inspect } from 'node:util';
import { TruncatedError } from './byte-reader.js';
import { collationDecoding, utf32Decoder } from './charset-decoding.js';
import { ColumnType, type ColumnDef } from './column-types.js';
import { decimalBinarySize, decodeDecimalChecked, invalidDecimal, validDecimal } from './decimal-binary.js';
import { decodeJsonBinary } from './json-binary.js';
import { decodeDate, decodeDatetime2, decodeTime2, formatTimestamp, fspBytes, readTimestamp2Fraction } from './temporal.js';

/**
 * A TIMESTAMP: microseconds since the epoch (UTC) and SELECT's text under time_zone '+00:00'.
 * Built from epoch microseconds (a bigint), or from whole seconds (a number) and `micros`, in which
 * case the bigint is only made when `epochMicros` is read.
 */
export class TimestampValue {
  readonly text: string;
  #epochMicros: bigint | undefined;
  #seconds: number;
  #micros: number;

  constructor(epochMicros: bigint, text: string);
  constructor(seconds: number, text: string, micros: number);
  constructor(epochMicrosOrSeconds: bigint | number, text: string, micros = 0) {
    this.text = text;
    if (typeof epochMicrosOrSeconds === 'bigint') {
      this.#epochMicros = epochMicrosOrSeconds;
      this.#seconds = 0;
      this.#micros = 0;
    } else {
      this.#epochMicros = undefined;
      this.#seconds = epochMicrosOrSeconds;
      this.#micros = micros;
    }
  }

  /** Microseconds since the epoch (UTC). */
  get epochMicros(): bigint {
    if (this.#epochMicros === undefined) {
      const micros = this.#seconds * 1_000_000 + this.#micros;
      this.#epochMicros = Number.isSafeInteger(micros) ? BigInt(micros) : BigInt(this.#seconds) * 1_000_000n + BigInt(this.#micros);
    }
    return this.#epochMicros;
  }

  [inspect.custom](): string {
    return `TimestampValue { epochMicros: ${this.epochMicros}n, text: '${this.text}' }`;
  }

  toJSON(): string {
    return this.text;
  }

  toString(): string {
    return this.text;
  }
}

/** A GEOMETRY value: SRID and the well-known binary. */
export class GeometryValue {
  constructor(
    readonly srid: number,
    readonly wkb: Buffer,
  ) {}
}

/** A decoded column value. SET is the list of its labels. */
export type BinlogValue = null | number | bigint | string | Buffer | string[] | TimestampValue | GeometryValue;

/** Where row decoding is in the event. */
export interface Cursor {
  buf: Buffer;
  pos: number;
  end: number;
}

/** Decodes one non-NULL value of a column and advances the cursor. */
export type ValueDecoder = (c: Cursor) => BinlogValue;

function take(c: Cursor, n: number): number {
  const at = c.pos;
  if (n < 0 || at + n > c.end) throw new TruncatedError(`row value needs ${n} bytes at offset ${at}, ${c.end - at} left`);
  c.pos = at + n;
  return at;
}

/** `ignoreBOM`: a leading U+FEFF is part of the value, not a byte order mark to drop. */
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
const decoders = new Map<string, TextDecoder>();

/**
 * MySQL's and MariaDB's latin1 is Windows-1252 (0x80 is €), with the five bytes cp1252 leaves
 * undefined mapped to the C1 controls. Node's TextDecoder('windows-1252') decodes as ISO-8859-1
 * (0x80 → U+0080), so the 0x80–0x9F row is mapped here.
 */
const LATIN1_80_9F = [
  0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f, 0x0090,
  0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
];

/** A decoder with TextDecoder's `decode` for MySQL's latin1. */
const mysqlLatin1 = {
  decode(bytes: Uint8Array): string {
    let out = '';
    for (let i = 0; i < bytes.length; i += 8192) {
      const chunk = bytes.subarray(i, i + 8192);
      const codes = new Array<number>(chunk.length);
      for (let k = 0; k < chunk.length; k++) {
        const b = chunk[k]!;
        codes[k] = b >= 0x80 && b <= 0x9f ? LATIN1_80_9F[b - 0x80]! : b;
      }
      out += String.fromCharCode(...codes);
    }
    return out;
  },
};

type Decoder = Pick<TextDecoder, 'decode'>;

/** Text decoding by collation; null means binary (bytes). */
function textDecoder(col: Pick<ColumnDef, 'collation' | 'name'>): Decoder | null {
  if (col.collation === 63) return null;
  if (col.collation === 0) return utf8;
  const found = collationDecoding(col.collation);
  if ('unknown' in found) throw new TruncatedError(`${found.unknown} for column ${col.name}`);
  const enc = found.decoding;
  if (enc === 'binary') return null;
  if (enc === 'utf8') return utf8;
  if (enc === 'latin1') return mysqlLatin1;
  if (enc === 'utf32') return utf32Decoder;
  let d = decoders.get(enc);
  if (!d) {
    try {
      d = new TextDecoder(enc, { ignoreBOM: true });
    } catch {
      throw new TruncatedError(`no decoder for charset ${enc} of column ${col.name}`);
    }
    decoders.set(enc, d);
  }
  return d;
}

/** Decodes `buf[start, end)` as text. */
type TextSlicer = (buf: Buffer, start: number, end: number) => string;

/** UTF-8 straight from the buffer (no view made); keeps a leading U+FEFF as TextDecoder with ignoreBOM does. */
const utf8Slice: TextSlicer = (buf, start, end) => buf.toString('utf8', start, end);

/** MySQL's latin1: bytes outside 0x80–0x9F are their code points (ISO-8859-1), the rest as cp1252. */
const latin1Slice: TextSlicer = (buf, start, end) => {
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b >= 0x80 && b <= 0x9f) return mysqlLatin1.decode(buf.subarray(start, end));
  }
  return buf.toString('latin1', start, end);
};

/** Text decoding of a column's values by collation; null means binary (bytes). */
function textSlicer(col: Pick<ColumnDef, 'collation' | 'name'>): TextSlicer | null {
  const td = textDecoder(col);
  if (td === null) return null;
  if (td === utf8) return utf8Slice;
  if (td === mysqlLatin1) return latin1Slice;
  return (buf, start, end) => td.decode(buf.subarray(start, end));
}

/** Text of `bytes` in the charset of a collation (0 = unknown: UTF-8; binary: UTF-8). */
export function decodeText(bytes: Uint8Array, collation: number, name = '?'): string {
  return (textDecoder({ collation, name }) ?? utf8).decode(bytes);
}

/** Shortest decimal text that reads back as the same float32 (what SELECT prints for FLOAT). */
export function shortestFloat32(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(v.toPrecision(p));
    if (Math.fround(candidate) === v) return candidate;
  }
  return v;
}

/** Reads a little-endian length of `prefixBytes` bytes, takes that many and returns where they start; their end is `c.pos`. */
function lengthPrefixed(c: Cursor, prefixBytes: number): number {
  const at = take(c, prefixBytes);
  const buf = c.buf;
  const len = prefixBytes === 1 ? buf[at]! : prefixBytes === 2 ? buf[at]! | (buf[at + 1]! << 8) : buf.readUIntLE(at, prefixBytes);
  return take(c, len);
}

/** A copy of `buf[start, end)`, so that values do not keep the event's buffer alive. */
function copyBytes(buf: Buffer, start: number, end: number): Buffer {
  const len = end - start;
  const out = Buffer.allocUnsafe(len);
  // A loop beats Buffer#copy's call overhead for short values.
  if (len <= 32) for (let i = 0; i < len; i++) out[i] = buf[start + i]!;
  else buf.copy(out, 0, start, end);
  return out;
}

function stringDecoder(col: ColumnDef, maxLength: number, padBinaryTo: number): ValueDecoder {
  const prefix = maxLength > 255 ? 2 : 1;
  const text = textSlicer(col);
  if (text === null) {
    return (c) => {
      const at = lengthPrefixed(c, prefix);
      if (padBinaryTo > c.pos - at) {
        const out = Buffer.alloc(padBinaryTo);
        c.buf.copy(out, 0, at, c.pos);
        return out;
      }
      return copyBytes(c.buf, at, c.pos);
    };
  }
  return (c) => {
    const at = lengthPrefixed(c, prefix);
    return text(c.buf, at, c.pos);
  };
}

/** Distinct bitmasks whose label lists a SET column keeps. */
const SET_CACHE_LIMIT = 256;

/**
 * SET of up to 32 labels in 1–4 bytes: the bitmask as a number, its label list built once per mask
 * (up to SET_CACHE_LIMIT masks) and copied for each value, so a value's array is its own.
 */
function setDecoder(labels: string[], bytes: number): ValueDecoder {
  const cache = new Map<number, string[]>();
  return (c) => {
    const at = take(c, bytes);
    const mask = c.buf.readUIntLE(at, bytes);
    const known = cache.get(mask);
    if (known) return known.slice();
    const out: string[] = [];
    for (let i = 0; i < labels.length; i++) if (mask & (2 ** i)) out.push(labels[i]!);
    if (cache.size < SET_CACHE_LIMIT) cache.set(mask, out.slice());
    return out;
  };
}

/** Builds the decoder of one column from its TABLE_MAP definition. */
export function valueDecoder(col: ColumnDef): ValueDecoder {
  const u = col.unsigned;
  switch (col.type) {
    case ColumnType.TINY:
      return u ? (c) => c.buf.readUInt8(take(c, 1)) : (c) => c.buf.readInt8(take(c, 1));
    case ColumnType.SHORT:
      return u ? (c) => c.buf.readUInt16LE(take(c, 2)) : (c) => c.buf.readInt16LE(take(c, 2));
    case ColumnType.INT24:
      return u ? (c) => c.buf.readUIntLE(take(c, 3), 3) : (c) => c.buf.readIntLE(take(c, 3), 3);
    case ColumnType.LONG:
      return u ? (c) => c.buf.readUInt32LE(take(c, 4)) : (c) => c.buf.readInt32LE(take(c, 4));
    case ColumnType.LONGLONG:
      return u ? (c) => c.buf.readBigUInt64LE(take(c, 8)) : (c) => c.buf.readBigInt64LE(take(c, 8));
    case ColumnType.FLOAT:
      return (c) => shortestFloat32(c.buf.readFloatLE(take(c, 4)));
    case ColumnType.DOUBLE:
      return (c) => c.buf.readDoubleLE(take(c, 8));
    case ColumnType.NEWDECIMAL: {
      const { precision, scale } = col;
      const size = decimalBinarySize(precision, scale);
      if (!validDecimal(precision, scale)) {
        // Refused when a value is decoded, as before: a TABLE_MAP alone is not an error.
        return (c) => {
          take(c, size);
          throw invalidDecimal(precision, scale);
        };
      }
      return (c) => decodeDecimalChecked(c.buf, take(c, size), precision, scale);
    }
    case ColumnType.YEAR:
      return (c) => {
        const v = c.buf.readUInt8(take(c, 1));
        return v === 0 ? 0 : 1900 + v;
      };
    case ColumnType.DATE:
      return (c) => decodeDate(c.buf, take(c, 3));
    case ColumnType.TIME2: {
      const n = 3 + fspBytes(col.meta);
      return (c) => decodeTime2(c.buf, take(c, n), col.meta);
    }
    case ColumnType.DATETIME2: {
      const n = 5 + fspBytes(col.meta);
      return (c) => decodeDatetime2(c.buf, take(c, n), col.meta);
    }
    case ColumnType.TIMESTAMP2: {
      const n = 4 + fspBytes(col.meta);
      const fsp = col.meta;
      return (c) => {
        const at = take(c, n);
        const seconds = c.buf.readUInt32BE(at);
        const micros = readTimestamp2Fraction(c.buf, at, fsp);
        return new TimestampValue(seconds, formatTimestamp(seconds, micros, fsp), micros);
      };
    }
    case ColumnType.TIMESTAMP:
      return (c) => {
        const seconds = c.buf.readUInt32LE(take(c, 4));
        return new TimestampValue(seconds, formatTimestamp(seconds, 0, 0), 0);
      };
    case ColumnType.BIT: {
      const bytes = Math.floor((col.meta + 7) / 8);
      return (c) => {
        const at = take(c, bytes);
        if (bytes <= 6) return BigInt(bytes === 0 ? 0 : c.buf.readUIntBE(at, bytes));
        let v = 0n;
        for (let i = 0; i < bytes; i++) v = (v << 8n) | BigInt(c.buf[at + i]!);
        return v;
      };
    }
    case ColumnType.VARCHAR:
    case ColumnType.VAR_STRING:
      return stringDecoder(col, col.meta, 0);
    case ColumnType.STRING:
      if (col.realType === ColumnType.ENUM) {
        const labels = col.enumValues;
        return (c) => {
          const idx = col.meta === 2 ? c.buf.readUInt16LE(take(c, 2)) : c.buf.readUInt8(take(c, 1));
          if (idx === 0) return '';
          if (!labels) return idx;
          const label = labels[idx - 1];
          if (label === undefined) throw new TruncatedError(`ENUM index ${idx} beyond the ${labels.length} labels of ${col.name}`);
          return label;
        };
      }
      if (col.realType === ColumnType.SET) {
        const labels = col.setValues;
        const bytes = col.meta;
        if (labels && labels.length <= 32 && bytes >= 1 && bytes <= 4) return setDecoder(labels, bytes);
        return (c) => {
          const at = take(c, bytes);
          let bits = 0n;
          for (let i = bytes - 1; i >= 0; i--) bits = (bits << 8n) | BigInt(c.buf[at + i]!);
          if (!labels) return bits;
          const out: string[] = [];
          labels.forEach((label, i) => {
            if (bits & (1n << BigInt(i))) out.push(label);
          });
          return out;
        };
      }
      return stringDecoder(col, col.meta, col.collation === 63 ? col.meta : 0);
    case ColumnType.TINY_BLOB:
    case ColumnType.MEDIUM_BLOB:
    case ColumnType.LONG_BLOB:
    case ColumnType.BLOB: {
      const text = textSlicer(col);
      const prefix = col.meta;
      if (text === null) {
        return (c) => {
          const at = lengthPrefixed(c, prefix);
          return copyBytes(c.buf, at, c.pos);
        };
      }
      return (c) => {
        const at = lengthPrefixed(c, prefix);
        return text(c.buf, at, c.pos);
      };
    }
    case ColumnType.JSON:
      return (c) => {
        const at = lengthPrefixed(c, col.meta);
        return decodeJsonBinary(c.buf.subarray(at, c.pos));
      };
    case ColumnType.VECTOR:
      // MySQL 9 VECTOR: length-prefixed little-endian float32s, kept as the bytes SELECT returns.
      return (c) => {
        const at = lengthPrefixed(c, col.meta);
        return copyBytes(c.buf, at, c.pos);
      };
    case ColumnType.GEOMETRY:
      return (c) => {
        const at = lengthPrefixed(c, col.meta);
        const len = c.pos - at;
        if (len < 4) throw new TruncatedError(`GEOMETRY value of ${len} bytes`);
        return new GeometryValue(c.buf.readUInt32LE(at), copyBytes(c.buf, at + 4, c.pos));
      };
    default:
      return () => {
        throw new TruncatedError(`column ${col.name} has type ${col.type}, which the decoder does not support`);
      };
  }
}
