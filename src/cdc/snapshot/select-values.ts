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

const utf8 = (raw: Buffer): string => raw.toString('utf8');
const integer = (raw: Buffer): number => Number(utf8(raw));
const bigDecimalString = (raw: Buffer): string => BigInt(utf8(raw)).toString();
const bitsAsUnsigned = (raw: Buffer): string => BigInt(raw.length === 0 ? 0 : `0x${raw.toString('hex')}`).toString();
const geometry = (raw: Buffer, name: string): CanonicalValue => {
  if (raw.length < 4) throw new SnapshotError('SNAPSHOT_VALUE', `column ${name}: a GEOMETRY value of ${raw.length} bytes has no SRID`);
  return { srid: raw.readUInt32LE(0), wkb: raw.toString('base64', 4) };
};

/** Client-protocol type → how its text-protocol bytes become the canonical value. */
type Convert = (raw: Buffer, field: SelectField, float32: boolean) => CanonicalValue;

const CONVERT: ReadonlyMap<number, Convert> = new Map<number, Convert>([
  [1, integer], // TINY
  [2, integer], // SHORT
  [3, integer], // LONG
  [9, integer], // INT24
  [13, integer], // YEAR
  [8, bigDecimalString], // LONGLONG
  [16, bitsAsUnsigned], // BIT
  [0, utf8], // DECIMAL
  [246, utf8], // NEWDECIMAL
  [4, (raw: Buffer) => float32Shortest(Number(utf8(raw)))], // FLOAT
  [5, (raw: Buffer, _f: SelectField, float32: boolean) => (float32 ? float32Shortest(Number(utf8(raw))) : Number(utf8(raw)))], // DOUBLE
  [7, utf8], // TIMESTAMP
  [10, utf8], // DATE
  [14, utf8], // NEWDATE
  [11, utf8], // TIME
  [12, utf8], // DATETIME
  [245, utf8], // JSON (MySQL; marked binary, the text is utf8mb4)
  [242, (raw: Buffer) => raw.toString('base64')], // VECTOR
  [255, (raw: Buffer, f: SelectField) => geometry(raw, f.name)], // GEOMETRY
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
 * One column of a snapshot row in the canonical encoding (schemas/canonical-values.md), from the
 * bytes the server sent over the text protocol — the same value the binlog decoder gives for the
 * same stored row. `float32` marks a FLOAT column read as `col + 0e0` (SELECT prints FLOAT with
 * six digits, which does not identify the stored value). Pure.
 * @throws {SnapshotError} SNAPSHOT_VALUE for a column type with no canonical form
 */
export function selectValue(raw: Buffer | null, field: SelectField, float32 = false): CanonicalValue {
  if (raw === null) return null;
  const convert = CONVERT.get(field.type);
  if (convert) return convert(raw, field, float32);
  if (STRING_TYPES.has(field.type)) return field.charset === BINARY_COLLATION ? raw.toString('base64') : utf8(raw);
  throw new SnapshotError('SNAPSHOT_VALUE', `column ${field.name}: result type ${field.type} has no canonical form`);
}
