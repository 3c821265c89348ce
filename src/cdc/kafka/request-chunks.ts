/**
 * Bytes of one topic-partition's records that one produce request carries at most (uncompressed,
 * as estimated by {@link recordBytes}), unless a single record is larger: it then goes alone. A
 * request puts each partition's records in one record batch, and the broker refuses a batch
 * larger than the topic's `max.message.bytes` (1 MiB by default) — half of that, uncompressed,
 * stays below it whatever the compression.
 */
export const PARTITION_BYTES_PER_REQUEST = 512 * 1024;

/** Per-record framing of Kafka's record format v2 beyond key, value and headers (lengths, deltas, attributes), rounded up. */
const RECORD_OVERHEAD = 24;

/** A record as the producer sends it. */
export interface SizedRecord {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

const bytesOf = (v: Buffer | string | null | undefined): number =>
  v === null || v === undefined ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length;

/** A record's size in a record batch before compression (key, value, headers and framing). */
export function recordBytes(r: SizedRecord): number {
  let n = RECORD_OVERHEAD + bytesOf(r.key) + bytesOf(r.value);
  if (r.headers) {
    for (const name in r.headers) {
      const h = r.headers[name];
      const values = Array.isArray(h) ? h : [h];
      for (const v of values) n += 8 + Buffer.byteLength(name) + bytesOf(v);
    }
  }
  return n;
}

/**
 * An upper bound of {@link recordBytes} from string lengths alone (a UTF-16 code unit is at most 3
 * bytes of UTF-8): O(1) per string, where the exact count reads every character.
 */
export function recordBytesBound(r: SizedRecord): number {
  const len = (v: Buffer | string | null | undefined): number =>
    v === null || v === undefined ? 0 : typeof v === 'string' ? 3 * v.length : v.length;
  let n = RECORD_OVERHEAD + len(r.key) + len(r.value);
  if (r.headers) {
    for (const name in r.headers) {
      const h = r.headers[name];
      const values = Array.isArray(h) ? h : [h];
      for (const v of values) n += 8 + 3 * name.length + len(v);
    }
  }
  return n;
}

/**
 * Splits records (in send order) into consecutive chunks, one produce request each, such that no
 * partition gets more than `limit` bytes in one chunk — except a record larger than `limit`,
 * which starts a chunk (and its partition takes nothing more in it). The order of the records of
 * each partition is kept: chunk by chunk, in order within a chunk.
 */
export function chunkByPartitionBytes<T>(
  records: readonly T[],
  sizeOf: (r: T) => number,
  partitionOf: (r: T) => string,
  limit: number,
): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let used = new Map<string, number>();
  for (const r of records) {
    const size = sizeOf(r);
    const p = partitionOf(r);
    const have = used.get(p) ?? 0;
    if (have > 0 && have + size > limit) {
      chunks.push(chunk);
      chunk = [];
      used = new Map();
    }
    chunk.push(r);
    used.set(p, (used.get(p) ?? 0) + size);
  }
  if (chunk.length) chunks.push(chunk);
  return chunks;
}
