import type { SinkName } from '../shard/index.js';
import { shortfalls, sinkBehindError, sinkSnapshot, type SinkCondition, type SinkSnapshot } from './sink-progress.js';

/** Reads one sink's rows of `<metaDatabase>.sink_progress`. */
export type ReadSinkRows = (sink: SinkName) => Promise<Record<string, unknown>[]>;

/** The time and the waiting a watch uses (injected in tests). */
export interface WatchClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const SYSTEM_CLOCK: WatchClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** One read of a sink's rows: its order among reads, when it started, its outcome. */
interface Read {
  seq: number;
  startedAt: number;
  snapshot: Promise<SinkSnapshot>;
}

/**
 * Waits until a sink's published progress meets a condition, reading `sink_progress` about once
 * per `pollMs` per sink whatever the number of callers waiting: every caller evaluates the latest
 * read, the next read starts `pollMs` after the one before (or at a caller's deadline), and a
 * caller that finds a read newer than the one it evaluated takes that. Any read, however old,
 * that meets a condition proves it (a sink's applied set only grows; a lag computed now from an
 * older row is only larger), so a condition already met costs no round trip; a wait ends in
 * SINK_BEHIND only after a read that started within it.
 */
export class SinkProgressWatch {
  private seq = 0;
  private readonly latest = new Map<SinkName, Read>();

  constructor(
    private readonly read: ReadSinkRows,
    private readonly pollMs: number,
    private readonly clock: WatchClock = SYSTEM_CLOCK,
  ) {}

  /** The latest read of `sink` newer than `after` (by seq), or a new one. */
  private readAfter(sink: SinkName, after: number): Read {
    const last = this.latest.get(sink);
    if (last && last.seq > after) return last;
    const read: Read = { seq: ++this.seq, startedAt: this.clock.now(), snapshot: this.read(sink).then(sinkSnapshot) };
    this.latest.set(sink, read);
    read.snapshot.catch(() => {
      if (this.latest.get(sink) === read) this.latest.delete(sink);
    });
    return read;
  }

  /**
   * Resolves with the snapshot that meets `condition`.
   * @throws {SinkBehindError} SINK_BEHIND past `maxWaitMs` (after a read that started within the call)
   */
  async waitFor(sink: SinkName, condition: SinkCondition, maxWaitMs: number): Promise<SinkSnapshot> {
    const start = this.clock.now();
    let read = this.readAfter(sink, 0);
    for (;;) {
      const snapshot = await read.snapshot;
      const now = this.clock.now();
      const behind = shortfalls(condition, snapshot, now * 1000);
      if (behind.length === 0) return snapshot;
      // only a read that started within the call may end it: a wait of 0 ms still reads once
      if (read.startedAt >= start && now - start >= maxWaitMs) throw sinkBehindError(sink, behind, now - start, condition);
      const next = Math.min(read.startedAt + this.pollMs, start + maxWaitMs);
      if (next > now) await this.clock.sleep(next - now);
      read = this.readAfter(sink, read.seq);
    }
  }
}
