import type { Clock } from '../../retry/index.js';
import type { Logger } from '../../log/logger.js';
import type { RawRowSession } from '../../net/index.js';
import type { RowsEvent } from '../binlog/syncer/transaction-items.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import type { OutboundMessage } from '../kafka/event-log.js';
import type { SnapshotTable } from '../snapshot/chunk-reader.js';
import { SnapshotFeed, type SnapshotObserver, type SnapshotReadOptions } from '../snapshot/snapshot-feed.js';
import type { SnapshotKind, SnapshotPlan, SnapshotStore } from '../snapshot/snapshot-store.js';

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

/**
 * One pump's side of a running snapshot: collects the keys each source transaction changes in the
 * tables being read, tells the feed at every commit, and hands the pipeline the messages of ready
 * chunks between source transactions.
 */
export class SnapshotDriver {
  private keys = new Map<string, Set<string>>();
  private gtid: string | null = null;

  private constructor(private readonly feed: SnapshotFeed) {}

  /** Starts the committed snapshot of the instance, if one is unfinished; else null. */
  static async open(
    s: PipelineSnapshot,
    o: { instance: string; flavour: 'mysql' | 'mariadb'; topicPrefix: string; clock: Clock; logger: Logger; wake: () => void },
  ): Promise<SnapshotDriver | null> {
    const state = await s.store.load(o.instance);
    if (!state) return null;
    const tables = new Map(s.tables().map((t) => [`${t.database}.${t.table}`, t]));
    const feed = new SnapshotFeed({ ...s, ...o, state, tables, openSession: s.openSession });
    o.logger.info({ instance: o.instance, kind: state.plan.kind, ...feed.status }, 'snapshot running');
    feed.start();
    return new SnapshotDriver(feed);
  }

  /** A source transaction begins. */
  begin(gtid: string | null): void {
    this.gtid = gtid;
    if (this.keys.size) this.keys = new Map();
  }

  /** Rows of the open source transaction with the messages made of them. */
  rows(event: RowsEvent, messages: readonly OutboundMessage[]): void {
    const { database, table } = event.table;
    if (!this.feed.watching(database, table)) return;
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
    this.feed.observe({ gtid: this.gtid, end: { file: checkpoint.file, pos: checkpoint.pos }, at: now, keys: this.keys });
    this.keys = new Map();
  }

  /** Messages of ready chunks with the stream at `at` (between source transactions). */
  take(at: Checkpoint, serverUuid: string | null, idle: boolean): OutboundMessage[] {
    return this.feed.take({ file: at.file, pos: at.pos, serverId: at.serverId, serverUuid }, idle);
  }

  async stop(): Promise<void> {
    await this.feed.stop();
  }
}
