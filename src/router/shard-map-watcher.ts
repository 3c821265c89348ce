import { setTimeout as sleep } from 'node:timers/promises';
import type { QueryOutcome } from '../net/index.js';
import { ShardMap, latestShardMapSql, type Topology } from '../shard/index.js';

/** Runs one statement on an instance's primary (the router's pools). */
export type ReadOnInstance = (instance: string, sql: string) => Promise<QueryOutcome>;

/**
 * Keeps a router's shard map current: every `checkMs` it reads the latest version published in
 * `<metaDatabase>.shard_map` on every instance and adopts the highest one above its own (a shard
 * move publishes there). A statement that finds its shard's table gone (a move's fence) asks for
 * a read at once ({@link waitForVersionAbove}). Instances that do not answer, or have no table
 * yet, are skipped: the map in force stays until a later version is read.
 */
export class ShardMapWatcher {
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<boolean> | null = null;
  private closed = false;

  constructor(
    private readonly topology: Topology,
    private readonly instances: readonly string[],
    private readonly read: ReadOnInstance,
    private readonly metaDatabase: string,
    private readonly checkMs: number,
    private readonly onChange?: (map: ShardMap) => void,
  ) {}

  /** Reads once (awaited), then every `checkMs` in the background. */
  async start(): Promise<void> {
    await this.refresh();
    if (this.closed || this.checkMs <= 0) return;
    this.timer = setInterval(() => void this.refresh(), this.checkMs);
    this.timer.unref();
  }

  /** Reads the published versions now (one read at a time: callers share it); true when the map changed. */
  refresh(): Promise<boolean> {
    this.reading ??= this.readAll().finally(() => (this.reading = null));
    return this.reading;
  }

  /** Reads until the map's version is above `version` or `maxMs` passed; whether it is. */
  async waitForVersionAbove(version: number, maxMs: number): Promise<boolean> {
    const deadline = performance.now() + maxMs;
    for (;;) {
      if (this.topology.map.version > version) return true;
      await this.refresh();
      if (this.topology.map.version > version) return true;
      if (this.closed || performance.now() >= deadline) return false;
      await sleep(Math.min(20, Math.max(1, deadline - performance.now())));
    }
  }

  stop(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async readAll(): Promise<boolean> {
    if (this.closed) return false;
    const sql = latestShardMapSql(this.metaDatabase);
    const answers = await Promise.allSettled(this.instances.map((i) => this.read(i, sql)));
    let best: { version: number; ranges: string } | null = null;
    for (const a of answers) {
      if (a.status !== 'fulfilled' || a.value.kind !== 'rows') continue;
      const row = a.value.rows[0];
      if (!row) continue;
      const version = Number(row['version']);
      if (version > (best?.version ?? this.topology.map.version)) best = { version, ranges: String(row['ranges']) };
    }
    if (!best || this.closed) return false;
    let map: ShardMap;
    try {
      map = ShardMap.fromJson(best.version, this.topology.shardCount, best.ranges);
    } catch {
      return false;
    }
    if (!this.topology.adoptMap(map)) return false;
    this.onChange?.(map);
    return true;
  }
}
