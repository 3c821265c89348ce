import type { ChangeSource } from './change-event.js';

const POS_BITS = 32n;
const ROW_BITS = 11n;
const MAX_ROW = (1n << ROW_BITS) - 1n;
const MAX_ROW_NUMBER = Number(MAX_ROW);
const MAX_FILE = (1n << (63n - POS_BITS - ROW_BITS)) - 1n;
const MAX_VERSION = (1n << 63n) - 1n;

/** The numeric suffix of a binlog file name (`binlog.000042` → 42). */
export function binlogFileSeq(file: string): number {
  const m = /\.(\d+)$/.exec(file);
  if (!m) throw new RangeError(`binlog file name without a sequence number: "${file}"`);
  return Number(m[1]);
}

/**
 * The monotonic source version of a change within one server's binlog: binlog file sequence
 * (20 bits), event position (32 bits) and row index (11 bits) — commit order, then row order — as
 * a positive signed 64-bit integer. Replays of the same change give the same version; a later
 * change of the same row always a greater one. Rows past index 2047 of one event share the cap
 * (their order is kept by Kafka's per-key order). Across servers see {@link VersionEpoch}.
 */
export function sourceVersion(source: Pick<ChangeSource, 'file' | 'pos' | 'row'>): bigint {
  const file = BigInt(binlogFileSeq(source.file));
  if (file > MAX_FILE) throw new RangeError(`binlog file sequence ${file} is beyond ${MAX_FILE}`);
  const row = BigInt(source.row) > MAX_ROW ? MAX_ROW : BigInt(source.row);
  return (file << (POS_BITS + ROW_BITS)) | (BigInt(source.pos) << ROW_BITS) | row;
}

/**
 * How an instance's binlog coordinates become versions since its reader last changed servers
 * (a failover, or a server that renumbered its binlog): `version = base + sourceVersion(p) −
 * origin`. Epoch 0 is the identity (base 0, origin 0). A new epoch starts where the last one
 * left off — `base` is the version of the last committed position on the old server, `origin`
 * the start of the new server's oldest binlog file — so every version of the new server is
 * greater than every version published from the old one, whatever the two servers' file
 * numbers. It travels in the checkpoint (the Kafka transaction of the events it versioned), so a
 * restart versions a replayed change exactly as before. Decimal strings: JSON has no 64-bit integers.
 */
export interface VersionEpoch {
  /** 0, 1, 2 … — bumped at every change of server. */
  n: number;
  base: string;
  origin: string;
}

/** The version of a change at `source` in `epoch` (epoch 0 when absent). @throws {RangeError} past 2^63 − 1 */
export function versionIn(epoch: VersionEpoch | undefined, source: Pick<ChangeSource, 'file' | 'pos' | 'row'>): bigint {
  return epochVersion(epoch, sourceVersion(source));
}

/**
 * The versions of the rows at one binlog position in `epoch`, row `rowBase + i` for each `i`
 * (decimal strings, as {@link versionIn} gives them): the file and position part is computed
 * once per rows event instead of once per row.
 */
export function rowVersions(epoch: VersionEpoch | undefined, file: string, pos: number, rowBase: number): (i: number) => string {
  const at = sourceVersion({ file, pos, row: 0 });
  const shift = epochShift(epoch);
  return (i) => {
    const row = rowBase + i;
    return shift(at | (row >= MAX_ROW_NUMBER ? MAX_ROW : BigInt(row))).toString();
  };
}

function epochVersion(epoch: VersionEpoch | undefined, local: bigint): bigint {
  return epochShift(epoch)(local);
}

/** Local version → version in `epoch`, with the epoch's base and origin parsed once. */
function epochShift(epoch: VersionEpoch | undefined): (local: bigint) => bigint {
  if (!epoch || epoch.n === 0) return (local) => local;
  const base = BigInt(epoch.base);
  const origin = BigInt(epoch.origin);
  return (local) => {
    const v = base + local - origin;
    if (v > MAX_VERSION) throw new RangeError(`source version ${v} of epoch ${epoch.n} is beyond 2^63 − 1`);
    return v < base ? base : v;
  };
}

/**
 * The epoch that follows `current` when the reader moves to another server: its versions start
 * right after the last position committed on the old server (`last`) and count from the start of
 * the new server's oldest binlog file (`firstFile`).
 */
export function nextEpoch(current: VersionEpoch | undefined, last: { file: string; pos: number }, firstFile: string): VersionEpoch {
  const base = versionIn(current, { file: last.file, pos: last.pos, row: 0 }) + 1n;
  const origin = sourceVersion({ file: firstFile, pos: 0, row: 0 });
  return { n: (current?.n ?? 0) + 1, base: base.toString(), origin: origin.toString() };
}

/** A version carried by a change event (`source.version`), or null when it is not a plain non-negative 63-bit integer. */
export function parseVersion(text: unknown): bigint | null {
  if (typeof text !== 'string' || !/^\d{1,19}$/.test(text)) return null;
  const v = BigInt(text);
  return v > MAX_VERSION ? null : v;
}
