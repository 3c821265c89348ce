import { TruncatedError } from './byte-reader.js';
import { decodeDecimal } from './decimal-binary.js';
import { formatPackedDatetime } from './temporal.js';

const enum J {
  SMALL_OBJECT = 0x00,
  LARGE_OBJECT = 0x01,
  SMALL_ARRAY = 0x02,
  LARGE_ARRAY = 0x03,
  LITERAL = 0x04,
  INT16 = 0x05,
  UINT16 = 0x06,
  INT32 = 0x07,
  UINT32 = 0x08,
  INT64 = 0x09,
  UINT64 = 0x0a,
  DOUBLE = 0x0b,
  STRING = 0x0c,
  OPAQUE = 0x0f,
}

const MAX_DEPTH = 100;

function quote(s: string): string {
  return JSON.stringify(s);
}

/**
 * A JSON double as MySQL prints it: my_gcvt(d, MY_GCVT_ARG_DOUBLE, 34) — the shortest round-trip
 * digits, fixed notation while the decimal point is within 15 places (`0.00000015`,
 * `123456789012345.6`), else `1e15`, `1.2345678901234568e17`, `5e-324` — then `.0` when neither a
 * point nor an exponent was printed (`1.0`, `-0.0`).
 */
export function formatJsonDouble(v: number): string {
  if (!Number.isFinite(v)) throw new TruncatedError(`JSON double ${v}`);
  const negative = v < 0 || Object.is(v, -0);
  const [mantissa, exponent] = Math.abs(v).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const len = digits.length;
  const decpt = Number(exponent) + 1;
  const width = v < 0 ? 33 : 34;
  const F = decpt <= 0 ? len - decpt + 2 : decpt < len ? len + 1 : decpt;
  let out: string;
  if (F <= width && decpt >= -14 && (decpt <= 15 || len > decpt)) {
    if (decpt <= 0) out = `0.${'0'.repeat(-decpt)}${digits}`;
    else if (decpt < len) out = `${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
    else out = digits + '0'.repeat(decpt - len);
  } else {
    out = `${digits[0]}${len > 1 ? `.${digits.slice(1)}` : ''}e${decpt - 1}`;
  }
  if (!out.includes('.') && !out.includes('e')) out += '.0';
  return negative ? `-${out}` : out;
}

/** A variable-length length: 7 bits per byte, low groups first, at most 5 bytes. */
function readVarLength(buf: Buffer, pos: number, end: number): [number, number] {
  let len = 0;
  for (let i = 0; i < 5; i++) {
    if (pos + i >= end) throw new TruncatedError('JSON length truncated');
    const b = buf[pos + i]!;
    len |= (b & 0x7f) << (7 * i);
    if ((b & 0x80) === 0) return [len >>> 0, i + 1];
  }
  throw new TruncatedError('JSON length too long');
}

function opaque(type: number, data: Buffer): string {
  switch (type) {
    case 246: {
      const precision = data[0]!;
      const scale = data[1]!;
      return decodeDecimal(data, 2, precision, scale);
    }
    case 10:
      return quote(formatPackedDatetime(data.readBigInt64LE(0), 'date'));
    case 11:
      return quote(formatPackedDatetime(data.readBigInt64LE(0), 'time'));
    case 7:
    case 12:
    case 18:
    case 17:
      return quote(formatPackedDatetime(data.readBigInt64LE(0), 'datetime'));
    default:
      return quote(`base64:type${type}:${data.toString('base64')}`);
  }
}

function value(buf: Buffer, type: number, start: number, end: number, depth: number): string {
  if (depth > MAX_DEPTH) throw new TruncatedError('JSON nested too deeply');
  if (start > end) throw new TruncatedError('JSON value out of range');
  switch (type) {
    case J.SMALL_OBJECT:
    case J.LARGE_OBJECT:
    case J.SMALL_ARRAY:
    case J.LARGE_ARRAY:
      return container(buf, type, start, end, depth + 1);
    case J.LITERAL:
      if (start >= end) throw new TruncatedError('JSON literal truncated');
      return buf[start] === 0
        ? 'null'
        : buf[start] === 1
          ? 'true'
          : buf[start] === 2
            ? 'false'
            : (() => {
                throw new TruncatedError(`bad JSON literal ${buf[start]}`);
              })();
    case J.INT16:
      return String(checked(buf, start, 2, end).readInt16LE(start));
    case J.UINT16:
      return String(checked(buf, start, 2, end).readUInt16LE(start));
    case J.INT32:
      return String(checked(buf, start, 4, end).readInt32LE(start));
    case J.UINT32:
      return String(checked(buf, start, 4, end).readUInt32LE(start));
    case J.INT64:
      return String(checked(buf, start, 8, end).readBigInt64LE(start));
    case J.UINT64:
      return String(checked(buf, start, 8, end).readBigUInt64LE(start));
    case J.DOUBLE:
      return formatJsonDouble(checked(buf, start, 8, end).readDoubleLE(start));
    case J.STRING: {
      const [len, n] = readVarLength(buf, start, end);
      checked(buf, start + n, len, end);
      return quote(buf.toString('utf8', start + n, start + n + len));
    }
    case J.OPAQUE: {
      checked(buf, start, 1, end);
      const t = buf[start]!;
      const [len, n] = readVarLength(buf, start + 1, end);
      checked(buf, start + 1 + n, len, end);
      return opaque(t, buf.subarray(start + 1 + n, start + 1 + n + len));
    }
    default:
      throw new TruncatedError(`unknown JSON value type 0x${type.toString(16)}`);
  }
}

function checked(buf: Buffer, pos: number, n: number, end: number): Buffer {
  if (pos + n > end) throw new TruncatedError('JSON value truncated');
  return buf;
}

function container(buf: Buffer, type: number, start: number, end: number, depth: number): string {
  const large = type === J.LARGE_OBJECT || type === J.LARGE_ARRAY;
  const isObject = type === J.SMALL_OBJECT || type === J.LARGE_OBJECT;
  const w = large ? 4 : 2;
  const read = (pos: number) => {
    checked(buf, pos, w, end);
    return large ? buf.readUInt32LE(pos) : buf.readUInt16LE(pos);
  };
  const count = read(start);
  const size = read(start + w);
  if (start + size > end) throw new TruncatedError('JSON container larger than its value');
  const limit = start + size;
  const keyEntry = isObject ? w + 2 : 0;
  const valueEntry = 1 + w;
  let pos = start + 2 * w;
  if (pos + count * (keyEntry + valueEntry) > limit) throw new TruncatedError('JSON container entries out of range');
  const keys: string[] = [];
  if (isObject) {
    for (let i = 0; i < count; i++) {
      const off = read(pos);
      checked(buf, pos + w, 2, limit);
      const len = buf.readUInt16LE(pos + w);
      if (start + off + len > limit) throw new TruncatedError('JSON key out of range');
      keys.push(buf.toString('utf8', start + off, start + off + len));
      pos += keyEntry;
    }
  }
  const values: string[] = [];
  for (let i = 0; i < count; i++) {
    const t = buf[pos]!;
    const inline = t === J.LITERAL || t === J.INT16 || t === J.UINT16 || (large && (t === J.INT32 || t === J.UINT32));
    if (inline) values.push(value(buf, t, pos + 1, pos + 1 + w, depth));
    else {
      const off = read(pos + 1);
      values.push(value(buf, t, start + off, limit, depth));
    }
    pos += valueEntry;
  }
  return isObject ? `{${keys.map((k, i) => `${quote(k)}: ${values[i]}`).join(', ')}}` : `[${values.join(', ')}]`;
}

/**
 * MySQL's binary JSON to JSON text, formatted as MySQL prints it (`{"a": 1, "b": [true, null]}`).
 * Opaque DECIMAL and temporal values become numbers and strings; other opaque values
 * `"base64:typeN:…"` as MySQL shows them. An empty value is JSON null.
 */
export function decodeJsonBinary(buf: Buffer): string {
  if (buf.length === 0) return 'null';
  return value(buf, buf[0]!, 1, buf.length, 0);
}
