import { randomUUID } from 'node:crypto';
import { openArchiveConnection, type ArchiveConnection, type ArchiveEndpoint } from '../../net/archive-connection.js';
import { sinkProgressDatabaseSql, sinkProgressTable, sinkProgressTableSql, type SinkName } from '../../shard/index.js';
import type { Logger } from '../../log/logger.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import type { EventLog, GroupConsumer } from '../kafka/event-log.js';
import { ProgressTracker, type InstanceProgress } from './progress-tracker.js';

/** A sink whose progress is published: its consumer group, topics, and how to make its writes visible. */
export interface ProgressSink {
  name: SinkName;
  groupId: string;
  topics: readonly string[];
  /** Run before progress is published (Elasticsearch: refresh), so that what it claims is visible. */
  refresh?: () => Promise<void>;
}

/** Options of a {@link ProgressPublisher}. */
export interface ProgressPublisherOptions {
  log: EventLog;
  checkpointTopic: string;
  /** Consumer groups are named `<groupPrefix>-progress-<uuid>` (the checkpoint topic read from its start). */
  groupPrefix: string;
  instances: readonly string[];
  sinks: readonly ProgressSink[];
  archive: ArchiveEndpoint;
  metaDatabase: string;
  intervalMs: number;
  heartbeatMs: number;
  /** A sink with `refresh` is refreshed (and its progress published) at most this often (ms; default: every change). */
  refreshMs?: number;
  logger: Logger;
  /** Opens a connection to the archive (default: net/'s). */
  connect?: (endpoint: ArchiveEndpoint) => Promise<ArchiveConnection>;
  now?: () => number;
}

/**
 * Publishes, per sink and instance, the last checkpoint whose changes the sink has applied:
 * reads every instance's checkpoints from the checkpoint topic (each lists the partitions and
 * offsets its changes went to), compares them every `intervalMs` with the offsets the sink's
 * consumer group has committed (committed only after the sink applied a batch), refreshes
 * Elasticsearch when its progress moved, and upserts `<metaDatabase>.sink_progress` on the
 * archive. Idempotent and forward-only, so several workers may run it at once.
 */
export class ProgressPublisher {
  private readonly trackers = new Map<SinkName, ProgressTracker>();
  private consumer: GroupConsumer | null = null;
  private conn: ArchiveConnection | null = null;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private lastWrite = new Map<SinkName, number>();
  private readonly lastRefresh = new Map<SinkName, number>();
  /** Sinks with progress not refreshed (not searchable) yet: nothing is published for them until a refresh. */
  private readonly unrefreshed = new Set<SinkName>();
  private stopped = false;
  private failures = 0;

  constructor(private readonly o: ProgressPublisherOptions) {
    for (const s of o.sinks) this.trackers.set(s.name, new ProgressTracker());
  }

  async start(): Promise<void> {
    const instances = new Set(this.o.instances);
    this.consumer = this.o.log.consumer({
      groupId: `${this.o.groupPrefix}-progress-${randomUUID()}`,
      topics: [this.o.checkpointTopic],
      fromBeginning: true,
      ephemeral: true,
    });
    await this.consumer.run(async (batch) => {
      for (const m of batch.messages) {
        const key = m.key?.toString('utf8');
        if (!key || !instances.has(key) || !m.value) continue;
        const checkpoint = parseCheckpoint(m.value.toString('utf8'), key);
        if (checkpoint) for (const t of this.trackers.values()) t.add(checkpoint);
      }
    });
    this.timer = setInterval(() => {
      this.ticking ??= this.tick().finally(() => (this.ticking = null));
    }, this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    await this.consumer?.stop().catch(() => undefined);
    await this.conn?.close().catch(() => this.conn?.destroy());
    this.conn = null;
  }

  /** One comparison of every sink (exported for tests through `tickNow`). */
  async tickNow(): Promise<void> {
    await (this.ticking ??= this.tick().finally(() => (this.ticking = null)));
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      const due: { group: string; rows: InstanceProgress[]; sink: SinkName }[] = [];
      for (const sink of this.o.sinks) {
        const rows = await this.progressDue(sink);
        if (rows) due.push({ group: sink.groupId, rows, sink: sink.name });
      }
      if (due.length === 0) return;
      const now = (this.o.now ?? Date.now)();
      await this.write(due, now * 1000);
      for (const d of due) this.lastWrite.set(d.sink, now);
      this.failures = 0;
    } catch (err) {
      this.conn?.destroy();
      this.conn = null;
      if (this.failures++ % 50 === 0) this.o.logger.warn({ err: (err as Error).message }, 'sink progress: cannot publish; retrying');
    }
  }

  /** The rows to publish for `sink` now, or null (nothing new and no heartbeat due, or not refreshed yet). */
  private async progressDue(sink: ProgressSink): Promise<InstanceProgress[] | null> {
    const tracker = this.trackers.get(sink.name)!;
    // A sink that applied every checkpoint seen can only move when a new one arrives: no offset poll until then (idle worker).
    const changed = tracker.hasPending() ? tracker.advance(await this.o.log.committedOffsets(sink.groupId, sink.topics)) : [];
    const now = (this.o.now ?? Date.now)();
    if (changed.length && sink.refresh) this.unrefreshed.add(sink.name);
    if (this.unrefreshed.has(sink.name)) {
      // progress the sink has not made searchable yet is published only after a refresh, at most one per refreshMs
      if (now - (this.lastRefresh.get(sink.name) ?? -Infinity) < (this.o.refreshMs ?? 0)) return null;
      await sink.refresh!();
      this.lastRefresh.set(sink.name, now);
      this.unrefreshed.delete(sink.name);
    } else if (changed.length === 0 && now - (this.lastWrite.get(sink.name) ?? 0) < this.o.heartbeatMs) return null;
    const rows = tracker.progress();
    return rows.length === 0 ? null : rows;
  }

  /** One upsert of every due sink's rows. */
  private async write(due: readonly { group: string; rows: readonly InstanceProgress[] }[], checkedUs: number): Promise<void> {
    const conn = await this.connection();
    const all = due.flatMap((d) =>
      d.rows.map((r) => [d.group, r.instance, r.flavour, r.gtidSet, r.sourceTsUs, r.caughtUp ? 1 : 0, checkedUs]),
    );
    // forward-only: a slower publisher never moves a row back (source time orders the checkpoints of an instance)
    await conn.query(
      `INSERT INTO ${sinkProgressTable(this.o.metaDatabase)} (sink, instance, flavour, gtid_set, source_ts_us, caught_up, checked_at_us) VALUES ${all.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}
       ON DUPLICATE KEY UPDATE
         gtid_set = IF(VALUES(source_ts_us) >= source_ts_us, VALUES(gtid_set), gtid_set),
         caught_up = IF(VALUES(source_ts_us) >= source_ts_us, VALUES(caught_up), caught_up),
         checked_at_us = IF(VALUES(source_ts_us) >= source_ts_us, GREATEST(checked_at_us, VALUES(checked_at_us)), checked_at_us),
         source_ts_us = GREATEST(source_ts_us, VALUES(source_ts_us))`,
      all.flat(),
    );
  }

  private async connection(): Promise<ArchiveConnection> {
    if (this.conn && !this.conn.broken) return this.conn;
    const conn = await (this.o.connect ?? openArchiveConnection)(this.o.archive);
    try {
      await conn.query(sinkProgressDatabaseSql(this.o.metaDatabase));
      await conn.query(sinkProgressTableSql(this.o.metaDatabase));
    } catch (err) {
      conn.destroy();
      throw err;
    }
    return (this.conn = conn);
  }
}

/** A checkpoint message's value, or null when it is not one (the topic also holds snapshot plans). */
function parseCheckpoint(text: string, instance: string): Checkpoint | null {
  try {
    const value = JSON.parse(text) as Partial<Checkpoint>;
    if (value.instance !== instance || typeof value.file !== 'string' || typeof value.pos !== 'number') return null;
    return value as Checkpoint;
  } catch {
    return null;
  }
}
