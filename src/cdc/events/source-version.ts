import type { ChangeSource } from './change-event.js';

const POS_BITS = 32n;
const ROW_BITS = 11n;
const MAX_ROW = (1n << ROW_BITS) - 1n;
const MAX_FILE = (1n << (63n - POS_BITS - ROW_BITS)) - 1n;

/** The numeric suffix of a binlog file name (`binlog.000042` → 42). */
export function binlogFileSeq(file: string): number {
  const m = /\.(\d+)$/.exec(file);
  if (!m) throw new RangeError(`binlog file name without a sequence number: "${file}"`);
  return Number(m[1]);
}

/**
 * The monotonic source version of a change: binlog file sequence (20 bits), event position
 * (32 bits) and row index (11 bits) — commit order, then row order — as a positive signed 64-bit
 * integer (Elasticsearch external versions, the archive's `_version`). Replays of the same change
 * give the same version; a later change of the same row always a greater one. Rows past index
 * 2047 of one event share the cap (their order is kept by Kafka's per-key order).
 */
export function sourceVersion(source: Pick<ChangeSource, 'file' | 'pos' | 'row'>): bigint {
  const file = BigInt(binlogFileSeq(source.file));
  if (file > MAX_FILE) throw new RangeError(`binlog file sequence ${file} is beyond ${MAX_FILE}`);
  const row = BigInt(source.row) > MAX_ROW ? MAX_ROW : BigInt(source.row);
  return (file << (POS_BITS + ROW_BITS)) | (BigInt(source.pos) << ROW_BITS) | row;
}
