import { ByteReader, TruncatedError } from './byte-reader.js';
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
}

export function compileTable(map: TableMap): CompiledTable {
  return { map, decoders: map.columns.map(valueDecoder), names: map.columns.map((c) => c.name) };
}

function bitmap(r: ByteReader, count: number): Uint8Array {
  return r.bytes(Math.floor((count + 7) / 8));
}

function readImage(c: Cursor, table: CompiledTable, present: Uint8Array, presentCount: number): RowImage {
  const nullBytes = Math.floor((presentCount + 7) / 8);
  if (c.pos + nullBytes > c.end) throw new TruncatedError('row null bitmap truncated');
  const nullStart = c.pos;
  c.pos += nullBytes;
  const row: RowImage = {};
  const { decoders, names } = table;
  let p = 0;
  for (let i = 0; i < decoders.length; i++) {
    if ((present[i >> 3]! & (1 << (i & 7))) === 0) continue;
    if ((c.buf[nullStart + (p >> 3)]! & (1 << (p & 7))) !== 0) row[names[i]!] = null;
    else row[names[i]!] = decoders[i]!(c);
    p++;
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

/**
 * Decodes the rows of a WRITE/UPDATE/DELETE rows event (v1 or v2) against its table.
 * `kind` says which images each row carries.
 */
export function decodeRows(body: Buffer, postHeaderLength: number, version: 1 | 2, kind: 'write' | 'update' | 'delete', table: CompiledTable): RowChange[] {
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
  if (count !== table.decoders.length) {
    throw new TruncatedError(`rows event has ${count} columns but its TABLE_MAP has ${table.decoders.length}`);
  }
  const present1 = bitmap(r, count);
  const present2 = kind === 'update' ? bitmap(r, count) : present1;
  const n1 = popcount(present1, count);
  const n2 = kind === 'update' ? popcount(present2, count) : n1;
  const c: Cursor = { buf: body, pos: r.pos, end: body.length };
  const rows: RowChange[] = [];
  while (c.pos < c.end) {
    if (kind === 'write') rows.push({ before: null, after: readImage(c, table, present1, n1) });
    else if (kind === 'delete') rows.push({ before: readImage(c, table, present1, n1), after: null });
    else {
      const before = readImage(c, table, present1, n1);
      rows.push({ before, after: readImage(c, table, present2, n2) });
    }
  }
  return rows;
}
