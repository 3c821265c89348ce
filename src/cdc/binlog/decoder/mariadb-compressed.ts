import { inflateSync } from 'node:zlib';
import { TruncatedError } from './byte-reader.js';
import { EventType } from './event-types.js';

/** The largest uncompressed size accepted (MariaDB's max_allowed_packet ceiling, 1 GiB). */
export const MAX_MARIADB_UNCOMPRESSED = 2 ** 30;

/**
 * Inflates a MariaDB compressed block (binlog_buf_uncompress): one header byte (0x80 marker,
 * algorithm in bits 4–6 with 0 = zlib, low 3 bits = how many bytes of uncompressed length follow,
 * big-endian), then a zlib stream. The output must have exactly the declared length.
 */
export function inflateMariadbBlock(block: Buffer): Buffer {
  if (block.length < 2) throw new TruncatedError(`compressed block of ${block.length} bytes`);
  const head = block[0]!;
  if ((head & 0x80) === 0) throw new TruncatedError(`compressed block header 0x${head.toString(16)} lacks its marker bit`);
  const algorithm = (head & 0x70) >> 4;
  if (algorithm !== 0) throw new TruncatedError(`compressed block uses algorithm ${algorithm}, only zlib (0) exists`);
  const lenlen = head & 0x07;
  if (lenlen < 1 || lenlen > 4) throw new TruncatedError(`compressed block length of ${lenlen} bytes`);
  if (block.length < 1 + lenlen) throw new TruncatedError('compressed block length truncated');
  const length = block.readUIntBE(1, lenlen);
  if (length > MAX_MARIADB_UNCOMPRESSED) throw new TruncatedError(`compressed block declares ${length} bytes`);
  let out: Buffer;
  try {
    out = inflateSync(block.subarray(1 + lenlen), { maxOutputLength: Math.max(1, length) });
  } catch (err) {
    throw new TruncatedError(`zlib: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (out.length !== length) throw new TruncatedError(`compressed block inflates to ${out.length} bytes, its header says ${length}`);
  return out;
}

/** Whether an event type is one of MariaDB's compressed rows events (166–171). */
export function isCompressedRows(type: number): boolean {
  return type >= EventType.MARIADB_WRITE_ROWS_COMPRESSED_V1 && type <= EventType.MARIADB_DELETE_ROWS_COMPRESSED;
}

/** The uncompressed rows event type a compressed one stands for (166–168 → 23–25, 169–171 → 30–32). */
export function uncompressedRowsType(type: number): number {
  return type <= EventType.MARIADB_DELETE_ROWS_COMPRESSED_V1
    ? type - EventType.MARIADB_WRITE_ROWS_COMPRESSED_V1 + EventType.WRITE_ROWS_V1
    : type - EventType.MARIADB_WRITE_ROWS_COMPRESSED + EventType.WRITE_ROWS_V2;
}

/**
 * The body of a MariaDB compressed rows event with its rows inflated (row_log_event_uncompress):
 * only the part after the column bitmaps is compressed.
 */
export function inflateRowsBody(body: Buffer, rowsStart: number): Buffer {
  return Buffer.concat([body.subarray(0, rowsStart), inflateMariadbBlock(body.subarray(rowsStart))]);
}
