import type { Checkpoint } from '../cdc/checkpoint/checkpoint.js';

/** The phases of a shard move, in order. */
export const MOVE_PHASES = ['copy', 'catchup', 'verify', 'cutover', 'done'] as const;
export type MovePhase = (typeof MOVE_PHASES)[number];

/** Copy progress of one physical table: the last primary key copied (raw text), rows, whether done. */
export interface TableCopy {
  after: string[] | null;
  rows: number;
  done: boolean;
}

/** A row that differs between the source and the target at verify. */
export interface MoveDifference {
  table: string;
  /** The primary-key range of the chunk (raw text), or the key of the row. */
  from: string[] | null;
  to: string[] | null;
  source: { rows: number; checksum: string };
  target: { rows: number; checksum: string };
}

/**
 * The durable state of one shard move (`<metaDatabase>.reshard_moves` on the target instance).
 * Copy progress and the catch-up position are written in the same transaction as the rows they
 * describe, so a move killed at any moment resumes exactly where its last commit left it.
 */
export interface MoveState {
  id: string;
  /** `move`, or `rollback` (the same steps, back to where the shards were). */
  kind: 'move' | 'rollback';
  shards: number[];
  from: string;
  to: string;
  /** The phase reached; `aborted` once `reshard abort` undid it (the map never changed). */
  phase: MovePhase | 'aborted';
  /** The shard-map version the move was planned on. */
  mapVersion: number;
  /** The source's binlog position before the copy started: the catch-up applies every change after it. */
  start: Checkpoint;
  copied: Record<string, TableCopy>;
  /** The last source transaction the catch-up applied to the target. */
  applied: Checkpoint | null;
  appliedChanges: number;
  verify: { tables: number; chunks: number; rows: number; differences: MoveDifference[] } | null;
  /** The source's executed GTIDs right after the fence (the flip of its fence row). */
  fence: { gtid: string; at: string; startedMs?: number } | null;
  /** When the cut-over had published the new map on every instance (ms since the epoch). */
  publishedMs?: number;
  /** The shard-map version the cut-over published. */
  published: number | null;
  /**
   * Milliseconds per phase, the write fence's duration and its steps (flip, apply, check, publish),
   * how many checksum statements its final check ran, and the rename after it.
   */
  timings: Partial<
    Record<MovePhase | 'fence' | 'fence_flip' | 'fence_apply' | 'fence_check' | 'fence_publish' | 'fence_checked_tables' | 'rename', number>
  >;
  startedAt: string;
  updatedAt: string;
  error: string | null;
  /** Set by `reshard cleanup` once the fenced tables on `from` were dropped. */
  cleanedAt?: string;
}

/** Whether a move is still to be resumed (neither done nor aborted). */
export function isUnfinished(m: Pick<MoveState, 'phase'>): boolean {
  return m.phase !== 'done' && m.phase !== 'aborted';
}

/**
 * Parses `768-831`, `5`, `0-3,9` into ascending distinct shard numbers within `shardCount`.
 * @returns null when the text is not such a list
 */
export function parseShardList(text: string, shardCount: number): number[] | null {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^\s*(\d{1,6})\s*(?:-\s*(\d{1,6})\s*)?$/.exec(part);
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a > b || b >= shardCount) return null;
    for (let s = a; s <= b; s++) out.add(s);
  }
  return out.size ? [...out].sort((x, y) => x - y) : null;
}

/** `768-831` for contiguous shards, `0-3,9` otherwise. */
export function shardListText(shards: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < shards.length;) {
    let j = i;
    while (j + 1 < shards.length && shards[j + 1] === shards[j]! + 1) j++;
    parts.push(i === j ? `${shards[i]}` : `${shards[i]}-${shards[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
