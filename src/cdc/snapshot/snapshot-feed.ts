import { ChunkPacer } from './chunk-pacer.js';
import { isShardlineError } from '../../errors/index.js';
import type { Clock } from '../../retry/index.js';
import type { Logger } from '../../log/logger.js';
import type { RawRowSession } from '../../net/index.js';
import type { OutboundMessage } from '../kafka/event-log.js';
import { readChunk, readChunkSchema, type Chunk, type ChunkTableSchema, type SnapshotTable } from './chunk-reader.js';
import { RecentTransactions } from './recent-transactions.js';
import { snapshotEventEncoder } from './snapshot-event.js';
import { versionIn, type VersionEpoch } from '../events/source-version.js';
import { ChunkWindow, type BinlogPosition, type ObservedTransaction } from './snapshot-window.js';
import type { SnapshotPlan, SnapshotState, SnapshotStore, TableProgress } from './snapshot-store.js';

/** How a snapshot reads. */
export interface SnapshotReadOptions {
  /** Rows per chunk. */
  chunkRows: number;
  /** Tables of one instance read at the same time. */
  tablesPerInstance: number;
  /** Rows per second per instance (null: unthrottled). */
  maxRowsPerSecond: number | null;
}

/** What the feed reports as it goes. */
export interface SnapshotObserver {
  rows(instance: string, logical: string, n: number): void;
  remaining(instance: string, chunksLeft: number): void;
  running(instance: string, running: boolean): void;
}

/** Options of a {@link SnapshotFeed}. */
export interface SnapshotFeedOptions extends SnapshotReadOptions {
  instance: string;
  flavour: 'mysql' | 'mariadb';
  state: SnapshotState;
  /** The physical tables of the plan, by `db.table`. */
  tables: ReadonlyMap<string, SnapshotTable>;
  store: SnapshotStore;
  openSession: () => Promise<RawRowSession>;
  topicPrefix: string;
  clock: Clock;
  logger: Logger;
  observer?: SnapshotObserver;
  /** Called when a chunk is ready to be handed to the pipeline (wakes its wait). */
  wake: () => void;
}

/** Rows per chunk under a `maxRowsPerSecond` throttle (null: `chunkRows`): at most a tenth of a second's worth, at least 64. Pure. */
export function throttledChunkRows(chunkRows: number, maxRowsPerSecond: number | null): number {
  if (maxRowsPerSecond === null) return chunkRows;
  return Math.min(chunkRows, Math.max(64, Math.floor(maxRowsPerSecond / 10)));
}

/** A transaction handled by the stream before a chunk's read may still be invisible to it for this long (ms). */
export const READ_MARGIN_MS = 5000;

interface Arrived {
  table: SnapshotTable;
  chunk: Chunk;
  startedAt: number;
  window: ChunkWindow | null;
  handed: () => void;
  retry: () => void;
}

/** Where the stream stands when chunks are published: their `r` events get this position's version. */
export type StreamPosition = BinlogPosition & { serverId: number; serverUuid: string | null; epoch?: VersionEpoch };

/**
 * Reads an instance's snapshot tables chunk by chunk beside the binlog stream and hands each
 * chunk to the pipeline once it is safe: the pipeline tells the feed every committed source
 * transaction (`observe`) and asks for ready chunks between source transactions (`take`). A chunk
 * drops every key that a transaction its read may not have seen changed (DBLog's window, with
 * watermarks that write nothing to the source) and is published as `r` events at the stream's
 * position, in the same Kafka transaction as the table's progress.
 */
export class SnapshotFeed {
  private readonly recent = new RecentTransactions({ maxAgeMs: 2 * READ_MARGIN_MS, maxKeys: 2_000_000 });
  private readonly arrived: Arrived[] = [];
  /** Chunks published in the Kafka transaction still open: their readers wait for its commit. */
  private readonly uncommitted: Arrived[] = [];
  private readonly inFlight = new Map<string, number>();
  private readonly progress: Map<string, TableProgress>;
  private readonly watched = new Set<string>();
  private readonly estimates = new Map<string, number>();
  private stopped = false;
  private running: Promise<void> | null = null;
  private finishedSent = false;
  private readonly pacer: ChunkPacer;
  private failure: unknown = null;

  /**
   * Rows per chunk: `chunkRows`, or under a throttle at most a tenth of a second's worth (at
   * least 64), so the reads come as small steady steps instead of bursts that stall the live
   * traffic of the instance between pauses.
   */
  private readonly chunkRows: number;

  constructor(private readonly o: SnapshotFeedOptions) {
    this.chunkRows = throttledChunkRows(o.chunkRows, o.maxRowsPerSecond);
    this.pacer = new ChunkPacer(o.maxRowsPerSecond);
    this.progress = new Map(o.state.progress);
    for (const t of o.state.plan.tables) {
      if (!this.progress.has(t)) this.progress.set(t, { instance: o.instance, table: t, after: null, done: false, rows: 0, chunks: 0 });
      if (!this.progress.get(t)!.done) this.watched.add(t);
    }
  }

  get plan(): SnapshotPlan {
    return this.o.state.plan;
  }

  /** Tables done and in all, rows read so far. */
  get status(): { tablesDone: number; tables: number; rows: number; chunks: number } {
    let done = 0;
    let rows = 0;
    let chunks = 0;
    for (const p of this.progress.values()) {
      if (p.done) done++;
      rows += p.rows;
      chunks += p.chunks;
    }
    return { tablesDone: done, tables: this.progress.size, rows, chunks };
  }

  /** True once every table is done and the end of the snapshot was handed out. */
  get finished(): boolean {
    return this.finishedSent;
  }

  /** Whether rows of this physical table must be reported to `observe` (a chunk of it may be open). */
  watching(database: string, table: string): boolean {
    return this.watched.has(`${database}.${table}`);
  }

  /** Starts reading (returns at once). */
  start(): void {
    this.o.observer?.running(this.o.instance, true);
    const workers = Array.from({ length: Math.max(1, this.o.tablesPerInstance) }, () => this.work());
    this.running = Promise.all(workers).then(() => undefined);
  }

  /** Stops reading; chunks not handed out are dropped (read again on the next start). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const a of this.arrived.splice(0)) a.handed();
    for (const a of this.uncommitted.splice(0)) a.handed();
    await this.running?.catch(() => undefined);
    this.o.observer?.running(this.o.instance, false);
  }

  /** A source transaction committed; `keys` are the document ids of watched tables it changed. */
  observe(txn: ObservedTransaction): void {
    const keepSince = Math.min(...[...this.inFlight.values()].map((t) => t - READ_MARGIN_MS), txn.at - 2 * READ_MARGIN_MS);
    this.recent.add(txn, keepSince);
    for (const a of this.arrived) a.window?.observe(txn);
  }

  /**
   * Every chunk taken so far is committed in Kafka: their tables' next chunks may be read. A table
   * reads its next chunk only then, so a crash re-reads at most one chunk of each table.
   */
  committed(): void {
    for (const a of this.uncommitted.splice(0)) a.handed();
  }

  /**
   * Messages to publish now, with the stream at `at` (between source transactions): the `r` events
   * of ready chunks and their tables' progress, and the end of the snapshot once every table is
   * done. `idle` tells that the stream has had nothing new for a while (it has passed every
   * watermark taken before).
   */
  take(at: StreamPosition, idle: boolean): OutboundMessage[] {
    if (this.failure !== null) throw this.failure;
    if (this.finishedSent || (this.arrived.length === 0 && this.watched.size > 0)) return [];
    const out: OutboundMessage[] = [];
    for (let i = 0; i < this.arrived.length;) {
      const a = this.arrived[i]!;
      if (!a.window) {
        const since = a.startedAt - READ_MARGIN_MS;
        if (!this.recent.complete(since)) {
          this.arrived.splice(i, 1);
          a.retry();
          continue;
        }
        a.window = new ChunkWindow(`${a.table.database}.${a.table.table}`, a.chunk.watermark);
        for (const txn of this.recent.since(since)) a.window.observe(txn);
      }
      if (!a.window.ready(at) && !idle) {
        i++;
        continue;
      }
      this.arrived.splice(i, 1);
      out.push(...this.publish(a, at));
      this.uncommitted.push(a);
    }
    if (!this.finishedSent && this.watched.size === 0 && this.inFlight.size === 0 && this.arrived.length === 0) {
      this.finishedSent = true;
      out.push(...this.o.store.finishedMessages(this.plan));
      this.o.logger.info({ instance: this.o.instance, ...this.status }, 'snapshot done');
    }
    return out;
  }

  /** Whether a chunk waits to be taken (or a read failed): the pipeline should not sleep long. */
  get pending(): boolean {
    return this.arrived.length > 0 || this.failure !== null;
  }

  private publish(a: Arrived, at: StreamPosition): OutboundMessage[] {
    const name = `${a.table.database}.${a.table.table}`;
    const prev = this.progress.get(name)!;
    const done = a.chunk.rows.length < this.chunkRows;
    const next: TableProgress = {
      ...prev,
      after: a.chunk.last ?? prev.after,
      done,
      rows: prev.rows + a.chunk.rows.length,
      chunks: prev.chunks + 1,
    };
    this.progress.set(name, next);
    if (done) this.watched.delete(name);
    const topic = `${this.o.topicPrefix}${a.table.logical}`;
    const now = this.o.clock.now();
    const messages: OutboundMessage[] = [];
    const encode = snapshotEventEncoder(
      {
        instance: this.o.instance,
        flavour: this.o.flavour,
        server_uuid: at.serverUuid,
        server_id: at.serverId,
        db: a.table.database,
        table: a.table.table,
        logical_table: a.table.logical,
        shard: a.table.shard,
        gtid: null,
        file: at.file,
        pos: at.pos,
        row: 0,
        ts_us: now * 1000,
        snapshot: this.plan.kind,
      },
      now,
    );
    let row = 0;
    for (const r of a.chunk.rows) {
      if (a.window!.drops(r.key)) continue;
      const version = versionIn(at.epoch, { file: at.file, pos: at.pos, row }).toString();
      messages.push({ topic, key: r.key, value: encode(r.row, row++, version) });
    }
    this.o.observer?.rows(this.o.instance, a.table.logical, messages.length);
    messages.push(this.o.store.progressMessage(this.plan, next));
    this.o.observer?.remaining(this.o.instance, this.chunksLeft());
    return messages;
  }

  /** Chunks still to read, estimated from the tables' row estimates (a table not opened yet counts one). */
  private chunksLeft(): number {
    let n = 0;
    for (const [name, p] of this.progress) {
      if (p.done) continue;
      const estimate = this.estimates.get(name);
      n += estimate === undefined ? 1 : Math.max(1, Math.ceil((estimate - p.rows) / this.chunkRows));
    }
    return n;
  }

  /** Leaves a table out of the snapshot (logged as an error: its existing rows are not published). */
  private skip(name: string, why: string): void {
    this.progress.set(name, { ...this.progress.get(name)!, done: true });
    this.watched.delete(name);
    this.o.logger.error({ instance: this.o.instance, table: name }, `snapshot skips ${name}: ${why}`);
  }

  private nextTable(): string | null {
    for (const [name, p] of this.progress) if (!p.done && !this.inFlight.has(name)) return name;
    return null;
  }

  private async work(): Promise<void> {
    let session: RawRowSession | null = null;
    const schemas = new Map<string, ChunkTableSchema>();
    const logicalSchemas = new Map<string, ChunkTableSchema>();
    try {
      for (;;) {
        if (this.stopped) return;
        const name = this.nextTable();
        if (name === null) return;
        const table = this.o.tables.get(name);
        if (!table) {
          this.skip(name, 'it is no longer captured by this instance');
          continue;
        }
        this.inFlight.set(name, this.o.clock.now());
        try {
          session ??= await this.o.openSession();
          let schema = schemas.get(name);
          if (!schema) {
            try {
              schema = await readChunkSchema(session, table, logicalSchemas);
            } catch (err) {
              if (!isShardlineError(err) || err.code !== 'SNAPSHOT_TABLE') throw err;
              this.skip(name, err.message);
              continue;
            }
            schemas.set(name, schema);
            if (schema.estimatedRows >= 0) this.estimates.set(name, schema.estimatedRows);
          }
          while (!this.stopped && !this.progress.get(name)!.done) {
            await this.throttle();
            const startedAt = this.o.clock.now();
            this.inFlight.set(name, startedAt);
            const chunk = await readChunk(session, this.o.flavour, table, schema, this.progress.get(name)!.after, this.chunkRows);
            this.pacer.book(startedAt, chunk.rows.length);
            const retried = await new Promise<boolean>((resolve) => {
              if (this.stopped) return resolve(false);
              this.arrived.push({ table, chunk, startedAt, window: null, handed: () => resolve(false), retry: () => resolve(true) });
              this.o.wake();
            });
            if (retried)
              this.o.logger.warn(
                { instance: this.o.instance, table: name },
                'snapshot chunk read again: the stream moved too far during its read',
              );
          }
        } finally {
          this.inFlight.delete(name);
        }
      }
    } catch (err) {
      if (!this.stopped) {
        this.failure = err;
        this.o.wake();
      }
    } finally {
      await session?.close().catch(() => undefined);
      this.o.wake();
    }
  }

  /** Waits until reading one more chunk keeps the instance within `maxRowsPerSecond`. */
  private async throttle(): Promise<void> {
    const wait = this.pacer.delay(this.o.clock.now());
    if (wait > 0) await new Promise<void>((resolve) => this.o.clock.setTimeout(resolve, wait));
  }
}
