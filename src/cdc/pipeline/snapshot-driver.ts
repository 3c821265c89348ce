import type { Clock } from '../../retry/index.js';
import type { Logger } from '../../log/logger.js';
import type { RawRowSession } from '../../net/index.js';
import type { RowsEvent } from '../binlog/syncer/transaction-items.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import type { OutboundMessage } from '../kafka/event-log.js';
import type { SnapshotTable } from '../snapshot/chunk-reader.js';
import { SnapshotFeed, type SnapshotObserver, type SnapshotReadOptions } from '../snapshot/snapshot-feed.js';
import type { SnapshotRequest } from '../snapshot/snapshot-request.js';
import type { SnapshotKind, SnapshotPlan, SnapshotState, SnapshotStore } from '../snapshot/snapshot-store.js';

/** How an instance pipeline snapshots existing rows (`cdc.snapshot`). */
export interface PipelineSnapshot extends SnapshotReadOptions {
  mode: 'initial' | 'when_needed' | 'never';
  store: SnapshotStore;
  /** The instance's captured physical tables now. */
  tables: () => SnapshotTable[];
  openSession: () => Promise<RawRowSession>;
  observer?: SnapshotObserver;
}

/** The plan of a new snapshot of every captured table of an instance. */
export function snapshotPlan(instance: string, kind: SnapshotKind, tables: readonly SnapshotTable[], now: number): SnapshotPlan {
  return { instance, kind, tables: tables.map((t) => `${t.database}.${t.table}`), startedAtMs: now };
}

/** Options the driver passes on to each snapshot feed it starts. */
interface DriverContext {
  instance: string;
  flavour: 'mysql' | 'mariadb';
  topicPrefix: string;
  clock: Clock;
  logger: Logger;
  wake: () => void;
}

/**
 * One pump's side of snapshots: resumes the instance's committed snapshot, starts the ones
 * `cdc snapshot` requests (one at a time, in order), collects the keys each source transaction
 * changes in the tables being read, tells the feed at every commit, and hands the pipeline the
 * messages of ready chunks between source transactions.
 */
export class SnapshotDriver {
  private keys = new Map<string, Set<string>>();
  private gtid: string | null = null;
  private feed: SnapshotFeed | null = null;
  private readonly queue: SnapshotRequest[] = [];

  private constructor(
    private readonly s: PipelineSnapshot,
    private readonly o: DriverContext,
    private readonly handled: Set<string>,
  ) {}

  /**
   * Loads the instance's committed snapshot state (resuming an unfinished snapshot) and takes
   * `requests`. `committed` is a plan the caller has just committed: used when the read does not
   * show it yet (a read_committed read right after a commit may still stop before it).
   */
  static async open(
    s: PipelineSnapshot,
    o: DriverContext,
    requests: readonly SnapshotRequest[],
    committed: SnapshotPlan | null = null,
  ): Promise<SnapshotDriver> {
    const loaded = await s.store.loadInstance(o.instance);
    const { handled } = loaded;
    const state =
      committed && (!loaded.state || loaded.state.plan.startedAtMs < committed.startedAtMs)
        ? { plan: committed, progress: new Map() }
        : loaded.state;
    const driver = new SnapshotDriver(s, o, handled);
    if (state) {
      if (state.plan.requestId) handled.add(state.plan.requestId);
      driver.startFeed(state);
    }
    for (const r of requests) driver.request(r);
    return driver;
  }

  /** Queues a `cdc snapshot` request for this instance (ignored when done, queued or not for this instance). */
  request(r: SnapshotRequest): void {
    if (this.handled.has(r.id) || this.queue.some((q) => q.id === r.id)) return;
    if (r.instance !== null && r.instance !== this.o.instance) return;
    this.queue.push(r);
    this.o.wake();
  }

  private startFeed(state: SnapshotState): void {
    const tables = new Map(this.s.tables().map((t) => [`${t.database}.${t.table}`, t]));
    this.feed = new SnapshotFeed({ ...this.s, ...this.o, state, tables, openSession: this.s.openSession });
    this.o.logger.info(
      { instance: this.o.instance, kind: state.plan.kind, request: state.plan.requestId, ...this.feed.status },
      'snapshot running',
    );
    this.feed.start();
  }

  /** A source transaction begins. */
  begin(gtid: string | null): void {
    this.gtid = gtid;
    if (this.keys.size) this.keys = new Map();
  }

  /** Rows of the open source transaction with the messages made of them. */
  rows(event: RowsEvent, messages: readonly OutboundMessage[]): void {
    const { database, table } = event.table;
    if (!this.feed?.watching(database, table)) return;
    const name = `${database}.${table}`;
    let set = this.keys.get(name);
    if (!set) this.keys.set(name, (set = new Set()));
    for (const m of messages) {
      if (m.key !== null) set.add(m.key);
      const previous = m.headers?.['previous_key'];
      if (previous) set.add(previous);
    }
  }

  /** The source transaction committed at `checkpoint` (handled at `now`). */
  commit(checkpoint: Checkpoint, now: number): void {
    if (this.keys.size === 0) return;
    this.feed?.observe({ gtid: this.gtid, end: { file: checkpoint.file, pos: checkpoint.pos }, at: now, keys: this.keys });
    this.keys = new Map();
  }

  /**
   * Messages to publish with the stream at `at` (between source transactions): ready chunks, a
   * finished snapshot, a new one's plan. `batchOpen` tells whether the Kafka transaction that took
   * the last messages is still open (when not, they are committed).
   */
  async take(at: Checkpoint, serverUuid: string | null, idle: boolean, batchOpen: boolean): Promise<OutboundMessage[]> {
    if (!this.feed) return this.startNext();
    if (!batchOpen) this.feed.committed();
    const out = this.feed.take({ file: at.file, pos: at.pos, serverId: at.serverId, serverUuid, epoch: at.epoch }, idle);
    if (this.feed.finished) {
      const feed = this.feed;
      this.feed = null;
      await feed.stop();
      const { plan } = feed;
      if (plan.requestId) {
        this.handled.add(plan.requestId);
        const st = feed.status;
        out.push(
          this.s.store.doneMessage({
            requestId: plan.requestId,
            instance: this.o.instance,
            tables: st.tables,
            rows: st.rows,
            chunks: st.chunks,
            seconds: Math.max(0, (this.o.clock.now() - plan.startedAtMs) / 1000),
          }),
        );
      }
    }
    return out;
  }

  private startNext(): OutboundMessage[] {
    const r = this.queue.shift();
    if (!r) return [];
    const tables = this.s
      .tables()
      .filter(
        (t) => t.logical === r.table && (r.shards === null || t.shard === null || (t.shard >= r.shards[0] && t.shard <= r.shards[1])),
      );
    const plan: SnapshotPlan = { ...snapshotPlan(this.o.instance, 'incremental', tables, this.o.clock.now()), requestId: r.id };
    this.startFeed({ plan, progress: new Map() });
    return [this.s.store.planMessage(plan)];
  }

  async stop(): Promise<void> {
    await this.feed?.stop();
  }
}
