import type { CanonicalValue } from '../binlog/decoder/canonical-json.js';
import { SnapshotError } from './snapshot-error.js';

/** Result-set metadata of one column (as net/'s raw row session reports it). */
export interface SelectField {
  name: string;
  type: number;
  charset: number;
}

const BINARY_COLLATION = 63;

/** Rounds to float32 and writes it with the fewest significant digits that read back as that float32. */
export function float32Shortest(value: number): number {
  const stored = Math.fround(value);
  if (stored === 0 || !Number.isFinite(stored)) return stored;
  let digits = 1;
  let text = stored.toPrecision(digits);
  while (Math.fround(Number(text)) !== stored && digits < 9) text = stored.toPrecision(++digits);
  return Number(text);
}

/** A value as the raw row session gives it: the server's text, or its bytes. */
type Raw = string | Buffer;

const text = (raw: Raw): string => (typeof raw === 'string' ? raw : raw.toString('utf8'));
const bytes = (raw: Raw, name: string): Buffer => {
  if (typeof raw !== 'string') return raw;
  throw new SnapshotError('SNAPSHOT_VALUE', `column ${name}: expected the value's bytes, got text`);
};
const integer = (raw: Raw): number => Number(text(raw));
/** A BIGINT as the server prints it; only ZEROFILL's leading zeros need the (slow) normalisation. */
const bigDecimalString = (raw: Raw): string => {
  const t = text(raw);
  const c = t.charCodeAt(t[0] === '-' ? 1 : 0);
  return c === 48 /* 0 */ && t.length > 1 ? BigInt(t).toString() : t;
};
const bitsAsUnsigned = (raw: Buffer): string => BigInt(raw.length === 0 ? 0 : `0x${raw.toString('hex')}`).toString();
const geometry = (raw: Buffer, name: string): CanonicalValue => {
  if (raw.length < 4) throw new SnapshotError('SNAPSHOT_VALUE', `column ${name}: a GEOMETRY value of ${raw.length} bytes has no SRID`);
  return { srid: raw.readUInt32LE(0), wkb: raw.toString('base64', 4) };
};

/** How one column's value becomes its canonical form (chosen once per column of a result). */
export type ColumnConverter = (raw: Raw) => CanonicalValue;

/** Client-protocol type → the converter of a column of that type. */
type Compile = (field: SelectField, float32: boolean) => ColumnConverter;

const always =
  (convert: ColumnConverter): Compile =>
  () =>
    convert;
const float32Value: ColumnConverter = (raw) => float32Shortest(Number(text(raw)));
const doubleValue: ColumnConverter = (raw) => Number(text(raw));

const COMPILE: ReadonlyMap<number, Compile> = new Map<number, Compile>([
  [1, always(integer)], // TINY
  [2, always(integer)], // SHORT
  [3, always(integer)], // LONG
  [9, always(integer)], // INT24
  [13, always(integer)], // YEAR
  [8, always(bigDecimalString)], // LONGLONG
  [16, (f) => (raw) => bitsAsUnsigned(bytes(raw, f.name))], // BIT
  [0, always(text)], // DECIMAL
  [246, always(text)], // NEWDECIMAL
  [4, always(float32Value)], // FLOAT
  [5, (_f, float32) => (float32 ? float32Value : doubleValue)], // DOUBLE
  [7, always(text)], // TIMESTAMP
  [10, always(text)], // DATE
  [14, always(text)], // NEWDATE
  [11, always(text)], // TIME
  [12, always(text)], // DATETIME
  [245, always(text)], // JSON (MySQL; marked binary, the text is utf8mb4)
  [242, (f) => (raw) => bytes(raw, f.name).toString('base64')], // VECTOR
  [255, (f) => (raw) => geometry(bytes(raw, f.name), f.name)], // GEOMETRY
]);

/** String types: text in the connection's utf8mb4, or base64 when the column is binary. */
const STRING_TYPES = new Set([15, 247, 248, 249, 250, 251, 252, 253, 254]);

/**
 * Whether a column's text-protocol bytes are binary data (a binary string or BIT), not text: the
 * server marks every numeric and temporal column with the binary collation too, and their bytes
 * are ASCII digits. Pure.
 */
export function isBinaryField(field: SelectField): boolean {
  return field.charset === BINARY_COLLATION && (STRING_TYPES.has(field.type) || field.type === 16);
}

/**
 * The converter of one result column to the canonical encoding (schemas/canonical-values.md): a
 * value in, as the raw row session gives it (text, or bytes for binary data), the value the binlog
 * decoder gives for the same stored row out. `float32` marks a FLOAT column read as `col + 0e0`
 * (SELECT prints FLOAT with six digits, which does not identify the stored value). NULL is not
 * passed to it. Pure.
 * @throws {SnapshotError} SNAPSHOT_VALUE for a column type with no canonical form
 */
export function columnConverter(field: SelectField, float32 = false): ColumnConverter {
  const compile = COMPILE.get(field.type);
  if (compile) return compile(field, float32);
  if (STRING_TYPES.has(field.type)) return field.charset === BINARY_COLLATION ? (raw) => bytes(raw, field.name).toString('base64') : text;
  throw new SnapshotError('SNAPSHOT_VALUE', `column ${field.name}: result type ${field.type} has no canonical form`);
}

/**
 * One column of a snapshot row in the canonical encoding (schemas/canonical-values.md), from what
 * the server sent over the text protocol — the same value the binlog decoder gives for the same
 * stored row. See {@link columnConverter} (the form to use for many rows). Pure.
 * @throws {SnapshotError} SNAPSHOT_VALUE for a column type with no canonical form
 */
export function selectValue(raw: Raw | null, field: SelectField, float32 = false): CanonicalValue {
  return raw === null ? null : columnConverter(field, float32)(raw);
}
