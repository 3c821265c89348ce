import type { CanonicalValue } from '../../binlog/decoder/canonical-json.js';
import type { LogicalColumn } from '../../schema/logical-columns.js';
import { isSpatial } from './archive-ddl.js';

/** A bound value for the archive: what the driver's placeholders accept. */
export type ArchiveParam = null | number | bigint | string | Buffer;

/** A canonical value that does not fit its column's type (a record refused for good). */
export class ArchiveValueError extends Error {
  constructor(
    readonly column: string,
    message: string,
  ) {
    super(`column ${column}: ${message}`);
    this.name = 'ArchiveValueError';
  }
}

const INTEGER = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'year']);
const BINARY_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'vector', 'inet4', 'inet6', 'uuid']);
const TEMPORAL = new Set(['date', 'datetime', 'timestamp', 'time']);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const INTEGER_TEXT = /^-?\d+$/;
const DECIMAL_TEXT = /^-?\d+(?:\.\d+)?$/;

/** True when the column holds bytes (binary strings, BLOBs, types the archive keeps as bytes). */
export function isBinaryColumn(column: LogicalColumn): boolean {
  return column.charset === 'binary' || BINARY_TYPES.has(column.dataType);
}

/** The width M of a BIT(M) column (1 when not given). */
export function bitWidth(columnType: string): number {
  const m = /^bit\s*\((\d+)\)/.exec(columnType);
  return m ? Number(m[1]) : 1;
}

function text(column: LogicalColumn, v: CanonicalValue, what: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new ArchiveValueError(column.name, `expected ${what}, found ${describe(v)}`);
}

function describe(v: CanonicalValue): string {
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Base64 text (canonical binary strings) as bytes; refuses text that is not base64. */
function bytes(column: LogicalColumn, v: CanonicalValue): Buffer {
  if (typeof v !== 'string' || !BASE64.test(v))
    throw new ArchiveValueError(
      column.name,
      `expected base64 bytes, found ${typeof v === 'string' ? 'text that is not base64' : describe(v)}`,
    );
  return Buffer.from(v, 'base64');
}

/** BIT(M): the canonical unsigned decimal as M bits, big-endian in ceil(M/8) bytes (a binary string a BIT column takes as is). */
function bits(column: LogicalColumn, v: CanonicalValue): Buffer {
  const t = text(column, v, 'a decimal string');
  if (!/^\d+$/.test(t)) throw new ArchiveValueError(column.name, 'expected an unsigned decimal string for BIT');
  const width = bitWidth(column.columnType);
  let n = BigInt(t);
  if (n >> BigInt(width) !== 0n) throw new ArchiveValueError(column.name, `value does not fit BIT(${width})`);
  const out = Buffer.alloc(Math.max(1, Math.ceil(width / 8)));
  for (let i = out.length - 1; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** GEOMETRY { srid, wkb }: MySQL's internal format — 4-byte little-endian SRID, then the WKB — which SELECT returns and the column takes back unchanged. */
function geometry(column: LogicalColumn, v: CanonicalValue): Buffer {
  if (
    v === null ||
    typeof v !== 'object' ||
    !Number.isInteger(v.srid) ||
    v.srid < 0 ||
    v.srid > 0xffffffff ||
    typeof v.wkb !== 'string' ||
    !BASE64.test(v.wkb)
  ) {
    throw new ArchiveValueError(column.name, `expected a geometry { srid, wkb }, found ${describe(v)}`);
  }
  const srid = Buffer.alloc(4);
  srid.writeUInt32LE(v.srid, 0);
  return Buffer.concat([srid, Buffer.from(v.wkb, 'base64')]);
}

/**
 * A canonical value (schemas/canonical-values.md) as the value bound for its archive column:
 * - integers, YEAR, FLOAT, DOUBLE: numbers (YEAR 0 must stay a number: the text '0' means 2000);
 * - BIGINT: bigint (written as an exact integer literal);
 * - DECIMAL: the decimal text (converted exactly by the server);
 * - DATE, DATETIME, TIME, TIMESTAMP: the text as SELECT prints it (TIMESTAMP in UTC; the session
 *   is in UTC), zero dates included;
 * - binary strings and BLOBs: bytes from base64; BIT(M): ceil(M/8) big-endian bytes;
 * - GEOMETRY: bytes of MySQL's internal format (SRID + WKB), no axis-order reinterpretation;
 * - JSON, text, ENUM and SET: the text.
 * Numeric text (from a document id) is accepted where a number is expected.
 */
export function archiveParam(column: LogicalColumn, v: CanonicalValue): ArchiveParam {
  if (v === null) return null;
  if (isSpatial(column)) return geometry(column, v);
  if (typeof v === 'object') throw new ArchiveValueError(column.name, `expected a scalar for ${column.dataType}, found an object`);
  const type = column.dataType;
  if (type === 'bit') return bits(column, v);
  if (isBinaryColumn(column)) return bytes(column, v);
  if (INTEGER.has(type)) {
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    if (typeof v === 'string' && INTEGER_TEXT.test(v) && Number.isSafeInteger(Number(v))) return Number(v);
    throw new ArchiveValueError(column.name, `expected an integer for ${type}`);
  }
  if (type === 'bigint') {
    if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
    if (typeof v === 'string' && INTEGER_TEXT.test(v)) return BigInt(v);
    throw new ArchiveValueError(column.name, 'expected an integer string for bigint');
  }
  if (type === 'decimal' || type === 'numeric') {
    const t = text(column, v, 'a decimal string');
    if (!DECIMAL_TEXT.test(t)) throw new ArchiveValueError(column.name, 'expected a decimal string without exponent');
    return t;
  }
  if (type === 'float' || type === 'double' || type === 'real') {
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isFinite(n) || (typeof v === 'string' && v.trim() === ''))
      throw new ArchiveValueError(column.name, `expected a finite number for ${type}`);
    return n;
  }
  if (TEMPORAL.has(type)) return text(column, v, 'temporal text');
  return text(column, v, 'text');
}

/** The approximate bytes a bound value adds to a transaction (what TiDB's size limit counts). */
export function paramBytes(v: ArchiveParam): number {
  if (v === null) return 1;
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (Buffer.isBuffer(v)) return v.length;
  return 8;
}
