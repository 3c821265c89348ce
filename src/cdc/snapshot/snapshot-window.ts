import { positionAtOrAfter } from '../checkpoint/checkpoint.js';
import type { MysqlGtidSet } from '../../gtid/index.js';

/** A binlog position. */
export interface BinlogPosition {
  file: string;
  pos: number;
}

/**
 * Where a chunk's read stands in the binlog, taken without writing anything to the source:
 * - MySQL: `gtid_executed` read before the chunk's SELECT (a transaction enters it only after
 *   its engine commit, so every transaction in it is visible to the SELECT) and the binlog end
 *   read after it (every transaction the SELECT saw is written before it);
 * - MariaDB: the exact binlog position of the chunk's consistent snapshot
 *   (`binlog_snapshot_file/position` of START TRANSACTION WITH CONSISTENT SNAPSHOT) — MariaDB
 *   adds a GTID to `gtid_binlog_pos` before the engine commit, so that variable would not do.
 */
export type ChunkWatermark =
  { flavour: 'mysql'; executed: MysqlGtidSet; end: BinlogPosition } | { flavour: 'mariadb'; snapshot: BinlogPosition };

/** A committed source transaction as the snapshot sees it: its identity and the keys it changed. */
export interface ObservedTransaction {
  gtid: string | null;
  /** Position right after its commit (its checkpoint). */
  end: BinlogPosition;
  /** When the pipeline handled it (the pipeline's clock, ms). */
  at: number;
  /** `db.table` → document ids of the rows it changed (before and after keys). */
  keys: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * Whether a transaction may be missing from what the chunk's SELECT saw — then the rows it
 * changed are dropped from the chunk (the binlog carries their newer version). Pure.
 */
export function changedAfterRead(watermark: ChunkWatermark, txn: Pick<ObservedTransaction, 'gtid' | 'end'>): boolean {
  if (watermark.flavour === 'mysql') return txn.gtid === null || !watermark.executed.has(txn.gtid);
  return !positionAtOrAfter(watermark.snapshot, txn.end);
}

/** Whether the stream, standing at `at`, has handled every transaction the chunk's SELECT saw. */
export function streamPassed(watermark: ChunkWatermark, at: BinlogPosition): boolean {
  return positionAtOrAfter(at, watermark.flavour === 'mysql' ? watermark.end : watermark.snapshot);
}

/**
 * The DBLog window of one chunk of one physical table: from the chunk's read until the stream has
 * passed its watermark, every key a transaction outside the read changed is dropped from the
 * chunk, so a chunk row is never older than a change published before or after it. Pure.
 */
export class ChunkWindow {
  private readonly dropped = new Set<string>();

  constructor(
    readonly table: string,
    readonly watermark: ChunkWatermark,
  ) {}

  /** Takes in one committed transaction (handled by the stream after the read began). */
  observe(txn: Pick<ObservedTransaction, 'gtid' | 'end' | 'keys'>): void {
    const keys = txn.keys.get(this.table);
    if (!keys || keys.size === 0 || !changedAfterRead(this.watermark, txn)) return;
    for (const k of keys) this.dropped.add(k);
  }

  /** Whether the chunk may be published with the stream at `at`. */
  ready(at: BinlogPosition): boolean {
    return streamPassed(this.watermark, at);
  }

  /** Whether a chunk row with this key must be dropped. */
  drops(key: string): boolean {
    return this.dropped.has(key);
  }

  /** How many keys the window dropped so far. */
  get droppedKeys(): number {
    return this.dropped.size;
  }
}
