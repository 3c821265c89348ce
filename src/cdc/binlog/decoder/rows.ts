import { LRUCache } from 'lru-cache';
import { ByteReader, TruncatedError } from './byte-reader.js';
import { ColumnType } from './column-types.js';
import { applyJsonDiffs, readJsonDiffs } from './json-diff.js';
import type { TableMap } from './table-map.js';
import { valueDecoder, type BinlogValue, type Cursor, type ValueDecoder } from './values.js';

/** A row image: column name → value; columns absent from the image are absent here. */
export type RowImage = Record<string, BinlogValue>;

/** One changed row. */
export interface RowChange {
  before: RowImage | null;
  after: RowImage | null;
}

/** A table map with its compiled per-column decoders (built once per TABLE_MAP). */
export interface CompiledTable {
  map: TableMap;
  decoders: ValueDecoder[];
  names: string[];
  /** For each column, its ordinal among the table's JSON columns (-1 for other columns). */
  jsonOrdinals: number[];
  jsonCount: number;
  /** Decodes an image with every column, given its null bitmap's offset (null: no such function). */
  readFullImage: ((c: Cursor, decoders: ValueDecoder[], nullStart: number) => RowImage) | null;
}

/**
 * A row image with every column as one object literal compiled per column list, its values decoded in
 * column order (a literal evaluates its values in order): each row gets the table's shape at once
 * instead of growing it key by key.
 */
function fullImageReader(names: string[]): CompiledTable['readFullImage'] {
  const key = JSON.stringify(names);
  const cached = fullImageReaders.get(key);
  if (cached) return cached;
  const reader = compileFullImageReader(names);
  if (reader) fullImageReaders.set(key, reader);
  return reader;
}

/**
 * Readers by column list, shared by every table with the same columns (the shards of a logical
 * table): one compiled function that V8 optimizes, instead of a cold one per TABLE_MAP.
 */
const fullImageReaders = new LRUCache<string, NonNullable<CompiledTable['readFullImage']>>({
  max: 1024,
  // and the characters of their column lists (each reader's source is about as long)
  maxSize: 8 * 1024 * 1024,
  sizeCalculation: (_reader, key) => Math.max(1, key.length),
});

function compileFullImageReader(names: string[]): CompiledTable['readFullImage'] {
  // Keys are JSON string literals, so no name can break out of the object literal; `__proto__` is
  // computed (`["__proto__"]: …`), which makes it an own property instead of the prototype.
  const key = (n: string) => (n === '__proto__' ? `[${JSON.stringify(n)}]` : JSON.stringify(n));
  const values = names.map((n, i) => `${key(n)}: (b[n + ${i >> 3}] & ${1 << (i & 7)}) !== 0 ? null : d[${i}](c)`);
  return new Function('c', 'd', 'n', `const b = c.buf;\nreturn {\n${values.join(',\n')}\n};`) as CompiledTable['readFullImage'];
}

/** Compiles a TABLE_MAP into per-column decoders. */
export function compileTable(map: TableMap): CompiledTable {
  let jsonCount = 0;
  const jsonOrdinals = map.columns.map((c) => (c.type === ColumnType.JSON ? jsonCount++ : -1));
  const names = map.columns.map((c) => c.name);
  return { map, decoders: map.columns.map(valueDecoder), names, jsonOrdinals, jsonCount, readFullImage: fullImageReader(names) };
}

/**
 * Sets a column of a row object as an own property, also for a column named `__proto__`
 * (which a plain assignment turns into the object's prototype, dropping the value).
 */
export function setColumn<V>(row: Record<string, V>, name: string, value: NoInfer<V>): void {
  if (name === '__proto__') Object.defineProperty(row, name, { value, enumerable: true, writable: true, configurable: true });
  else row[name] = value;
}

function bitmap(r: ByteReader, count: number): Uint8Array {
  return r.bytes(Math.floor((count + 7) / 8));
}

function readImage(c: Cursor, table: CompiledTable, present: Uint8Array, presentCount: number): RowImage {
  const nullBytes = Math.floor((presentCount + 7) / 8);
  if (c.pos + nullBytes > c.end) throw new TruncatedError('row null bitmap truncated');
  const nullStart = c.pos;
  c.pos += nullBytes;
  const { decoders, names, readFullImage } = table;
  if (readFullImage !== null && presentCount === decoders.length) return readFullImage(c, decoders, nullStart);
  const row: RowImage = {};
  let p = 0;
  for (let i = 0; i < decoders.length; i++) {
    if ((present[i >> 3]! & (1 << (i & 7))) === 0) continue;
    setColumn(row, names[i]!, (c.buf[nullStart + (p >> 3)]! & (1 << (p & 7))) !== 0 ? null : decoders[i]!(c));
    p++;
  }
  return row;
}

/** PARTIAL_JSON_UPDATES in the value_options of a PARTIAL_UPDATE_ROWS after image. */
const PARTIAL_JSON_UPDATES = 1;

function packedAt(c: Cursor): number {
  const r = new ByteReader(c.buf, c.pos, c.end);
  const v = r.packed();
  c.pos = r.pos;
  return v;
}

/**
 * The after image of a PARTIAL_UPDATE_ROWS row: value_options, then (with PARTIAL_JSON_UPDATES) one
 * bit per JSON column of the table saying whether its value is a list of JSON diffs, then the image.
 * Diffs are applied to the column's JSON in the before image; without it (binlog_row_image=MINIMAL
 * or NOBLOB) the after document is not in the binlog, which is an error rather than a guess.
 */
function readPartialImage(c: Cursor, table: CompiledTable, present: Uint8Array, presentCount: number, before: RowImage): RowImage {
  const options = packedAt(c);
  let partialBits: Buffer | null = null;
  if (options & PARTIAL_JSON_UPDATES) {
    const n = Math.floor((table.jsonCount + 7) / 8);
    if (c.pos + n > c.end) throw new TruncatedError('partial JSON bitmap truncated');
    partialBits = c.buf.subarray(c.pos, c.pos + n);
    c.pos += n;
  }
  const nullBytes = Math.floor((presentCount + 7) / 8);
  if (c.pos + nullBytes > c.end) throw new TruncatedError('row null bitmap truncated');
  const nullStart = c.pos;
  c.pos += nullBytes;
  const row: RowImage = {};
  const { decoders, names, jsonOrdinals } = table;
  let p = 0;
  for (let i = 0; i < decoders.length; i++) {
    if ((present[i >> 3]! & (1 << (i & 7))) === 0) continue;
    const name = names[i]!;
    const j = jsonOrdinals[i]!;
    const isNull = (c.buf[nullStart + (p >> 3)]! & (1 << (p & 7))) !== 0;
    p++;
    if (isNull) setColumn(row, name, null);
    else if (partialBits && j >= 0 && (partialBits[j >> 3]! & (1 << (j & 7))) !== 0) {
      const prefix = table.map.columns[i]!.meta;
      if (prefix < 1 || prefix > 4 || c.pos + prefix > c.end) throw new TruncatedError(`partial JSON value of ${name} truncated`);
      const len = c.buf.readUIntLE(c.pos, prefix);
      if (c.pos + prefix + len > c.end)
        throw new TruncatedError(`partial JSON value of ${name} needs ${len} bytes, ${c.end - c.pos - prefix} left`);
      const diffs = readJsonDiffs(c.buf.subarray(c.pos + prefix, c.pos + prefix + len));
      c.pos += prefix + len;
      const old = before[name];
      if (typeof old !== 'string') {
        throw new TruncatedError(
          `partial JSON update of column ${name} without its value in the before image (binlog_row_image=MINIMAL or NOBLOB with binlog_row_value_options=PARTIAL_JSON): the new document is not in the binlog; use binlog_row_image=FULL or binlog_row_value_options=''`,
        );
      }
      setColumn(row, name, applyJsonDiffs(old, diffs));
    } else setColumn(row, name, decoders[i]!(c));
  }
  return row;
}

function popcount(bits: Uint8Array, count: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) if (bits[i >> 3]! & (1 << (i & 7))) n++;
  return n;
}

/** Header of a rows event: which table and which columns are present. */
export interface RowsHeader {
  tableId: number;
  flags: number;
}

/** Reads the table id of a rows event (to find its TABLE_MAP before decoding). */
export function rowsTableId(body: Buffer, postHeaderLength: number): number {
  const r = new ByteReader(body);
  return postHeaderLength === 6 ? r.u32() : r.uintLE(6);
}

/** The fixed part of a rows event: column count, present-column bitmaps, where the rows start. */
export interface RowsLayout {
  count: number;
  present1: Uint8Array;
  present2: Uint8Array;
  dataStart: number;
}

/** Reads the part of a rows event before its rows (post-header, extra data, width, bitmaps). */
export function readRowsLayout(body: Buffer, postHeaderLength: number, version: 1 | 2, kind: 'write' | 'update' | 'delete'): RowsLayout {
  const r = new ByteReader(body);
  if (postHeaderLength === 6) r.u32();
  else r.uintLE(6);
  r.u16();
  if (version === 2) {
    const extra = r.u16();
    if (extra < 2) throw new TruncatedError(`rows event extra-data length ${extra}`);
    r.skip(extra - 2);
  }
  const count = r.packed();
  if (count > 4096) throw new TruncatedError(`rows event with ${count} columns`);
  const present1 = bitmap(r, count);
  const present2 = kind === 'update' ? bitmap(r, count) : present1;
  return { count, present1, present2, dataStart: r.pos };
}

/**
 * Decodes the rows of a WRITE/UPDATE/DELETE rows event (v1 or v2) against its table.
 * `kind` says which images each row carries; `partial` marks a PARTIAL_UPDATE_ROWS event.
 */
export function decodeRows(
  body: Buffer,
  postHeaderLength: number,
  version: 1 | 2,
  kind: 'write' | 'update' | 'delete',
  table: CompiledTable,
  partial = false,
): RowChange[] {
  const { count, present1, present2, dataStart } = readRowsLayout(body, postHeaderLength, version, kind);
  if (count !== table.decoders.length) {
    throw new TruncatedError(`rows event has ${count} columns but its TABLE_MAP has ${table.decoders.length}`);
  }
  const n1 = popcount(present1, count);
  const n2 = kind === 'update' ? popcount(present2, count) : n1;
  const c: Cursor = { buf: body, pos: dataStart, end: body.length };
  const rows: RowChange[] = [];
  while (c.pos < c.end) {
    const at = c.pos;
    if (kind === 'write') rows.push({ before: null, after: readImage(c, table, present1, n1) });
    else if (kind === 'delete') rows.push({ before: readImage(c, table, present1, n1), after: null });
    else {
      const before = readImage(c, table, present1, n1);
      rows.push({ before, after: partial ? readPartialImage(c, table, present2, n2, before) : readImage(c, table, present2, n2) });
    }
    if (c.pos === at) throw new TruncatedError(`rows event with no columns in its images but ${c.end - c.pos} bytes of rows`);
  }
  return rows;
}
