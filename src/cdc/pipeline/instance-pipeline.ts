import type { RowsEvent, TransactionItem } from '../binlog/syncer/transaction-items.js';
import type { AdoptedShards, Checkpoint } from '../checkpoint/checkpoint.js';
import { versionIn, type VersionEpoch } from '../events/source-version.js';
import type { CheckpointStore } from '../checkpoint/checkpoint-store.js';
import type { EventLog, TransactionalProducer } from '../kafka/event-log.js';
import type { CdcMetrics } from '../metrics/cdc-metrics.js';
import { captureTarget, type CaptureRules } from './capture-rules.js';
import type { ShardMapSource } from './shard-map-source.js';
import { ShardOwnership, handoffBase, shardRanges } from './shard-ownership.js';
import { ARCHIVAL_MARKER_TABLE, ShardMap } from '../../shard/index.js';
import { KafkaBatcher, type BatchAction } from './kafka-batcher.js';
import { KafkaTransactionWriter, mergeWrittenMaps } from './kafka-transaction-writer.js';
import { RowMessages } from './row-messages.js';
import { SnapshotDriver, snapshotPlan, type PipelineSnapshot } from './snapshot-driver.js';
import type { SnapshotPlan } from '../snapshot/snapshot-store.js';
import type { SnapshotRequest } from '../snapshot/snapshot-request.js';
import { BatchedPull, singleItems } from './batched-pull.js';
import { binlogSources, type ReplicatedInstance, type TransactionSource, type TransactionSources } from './transaction-source.js';
import { ReplicationError, isShardlineError } from '../../errors/index.js';
import { backoffDelayMs, checkBackoffPolicy, sleep, systemClock, type BackoffPolicy, type Clock } from '../../retry/index.js';
import type { Logger } from '../../log/logger.js';
import { KafkaCommitTraces } from '../../tracing/index.js';

/** Options of an {@link InstancePipeline}. */
export interface InstancePipelineOptions {
  instance: ReplicatedInstance;
  replicaServerId: number;
  log: EventLog;
  checkpoints: CheckpointStore;
  /** Read at every rows event, so a reload (SIGHUP) applies without reconnecting. */
  rules: () => CaptureRules;
  topicPrefix: string;
  batch: { maxEvents: number; maxMs: number };
  transactionalId: string;
  logger: Logger;
  metrics: CdcMetrics;
  heartbeatMs?: number;
  /** Where source transactions come from (default: the instance's binlog). */
  sources?: TransactionSources;
  /** Time of the batching and of the waits (default: the system clock). */
  clock?: Clock;
  /** Back-off between restarts after a retriable failure (default {@link RESTART_BACKOFF}). */
  backoff?: BackoffPolicy;
  /** Snapshots of the rows that exist before the first start (`cdc.snapshot`); none when absent. */
  snapshot?: PipelineSnapshot;
  /**
   * The shard maps the reader follows through its binlog (shard moves); absent: the capture
   * rules' map, never changing.
   */
  shardMaps?: ShardMapSource;
  /**
   * `sharding.naming.metaDatabase`: where the archival job's marker rows are written (absent: its
   * deletes are not told apart from users').
   */
  metaDatabase?: string;
  /** Every instance of the config (whose checkpoints a takeover of shards reads). */
  peers?: readonly string[];
  /** How long a takeover of shards waits for their previous owner's reader before it retries from the checkpoint (ms, default 20000). */
  handoffWaitMs?: number;
}

/** Restarts after a failure: 500 ms doubling up to 30 s, full jitter. */
export const RESTART_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000, jitter: 'full' };

const SEND_CHUNK = 1000;

/**
 * One instance's binlog → Kafka: source transactions are grouped into Kafka transactions (up to
 * `batch.maxEvents` events or `batch.maxMs`, always ending at a source commit), each committed
 * together with the instance's checkpoint in the compacted checkpoint topic. A crash anywhere
 * leaves Kafka at the last committed checkpoint; the next reader (this worker or another) fences
 * the old producer, reads the checkpoint back and resumes right after it. Rows of a huge source
 * transaction are sent as they come, inside the open Kafka transaction.
 */
export class InstancePipeline {
  private stopping = false;
  /** Aborted by `stop()`: cuts a reconnect back-off short (no reaction left per back-off). */
  private readonly stopped = new AbortController();
  private source: TransactionSource | null = null;
  private snapshot: SnapshotDriver | null = null;
  /** The snapshot plan this pipeline committed itself (not read back: a read right after the commit may not see it yet). */
  private committedPlan: SnapshotPlan | null = null;
  private readonly requests: SnapshotRequest[] = [];
  private batcher: KafkaBatcher | null = null;
  private readingNow = false;
  /** Where this reader's messages landed so far (the `written` of its checkpoints). */
  private written: Record<string, string> = {};
  /** `db.table` of the physical tables whose deletes in the current source transaction are the archival job's. */
  private readonly archivalTables = new Set<string>();
  private idleNow = false;
  private readonly sources: TransactionSources;
  private readonly clock: Clock;
  private readonly backoff: BackoffPolicy;
  private readonly traces: KafkaCommitTraces;
  private ownership: ShardOwnership | null = null;
  /** A shard-map version whose row the open source transaction wrote: adopted at its commit. */
  private pendingMap: { map: ShardMap; at: { file: string; pos: number } } | null = null;

  constructor(private readonly o: InstancePipelineOptions) {
    this.sources =
      o.sources ??
      binlogSources({ instance: o.instance, replicaServerId: o.replicaServerId, heartbeatMs: o.heartbeatMs ?? 5000, logger: o.logger });
    this.clock = o.clock ?? systemClock;
    this.backoff = checkBackoffPolicy(o.backoff ?? RESTART_BACKOFF);
    this.traces = new KafkaCommitTraces(o.instance.name);
  }

  get instance(): string {
    return this.o.instance.name;
  }

  /** True while the reader has waited a second without a new event and has nothing uncommitted: it has caught up. */
  get caughtUp(): boolean {
    return this.readingNow && this.idleNow;
  }

  /** The shard map in force at the reader's position (null until it reads, or when it follows none). */
  get shardMap(): ShardMap | null {
    return this.ownership?.map ?? null;
  }

  /** True once the start position is committed and the binlog is being read (changes from then on are captured). */
  get reading(): boolean {
    return this.readingNow;
  }

  /** Runs until `stop()`, fencing by another worker, or a non-retriable error (thrown). */
  async run(): Promise<void> {
    const { logger, metrics } = this.o;
    let failures = 0;
    // A checkpoint committed here a moment ago: used as is (reading it back may not see it yet).
    let restart: Checkpoint | null = null;
    while (!this.stopping) {
      let producer: TransactionalProducer | null = null;
      try {
        producer = await this.o.log.transactionalProducer(this.o.transactionalId);
        const checkpoint = restart ?? (await this.o.checkpoints.load(this.instance)) ?? (await this.initialCheckpoint(producer));
        restart = null;
        this.written = mergeWrittenMaps(this.written, checkpoint.written);
        logger.info(
          { instance: this.instance, from: `${checkpoint.file}:${checkpoint.pos}`, gtidSet: checkpoint.gtidSet },
          'reading the binlog',
        );
        metrics.reading(this.instance, true);
        this.readingNow = true;
        await this.pump(producer, checkpoint, () => (failures = 0));
        return;
      } catch (err) {
        if (isShardlineError(err) && err.code === 'KAFKA_FENCED') {
          logger.warn({ instance: this.instance }, 'another worker took this instance over (producer fenced); stopping its reader here');
          return;
        }
        if (this.stopping && isShardlineError(err) && err.retriable) {
          logger.info(
            { instance: this.instance, err: err.message },
            'stopped inside a transaction; it was not committed and is read again on the next start',
          );
          return;
        }
        if (isShardlineError(err) && err.code === 'BINLOG_PURGED' && this.o.snapshot?.mode === 'when_needed' && producer) {
          logger.warn(
            { instance: this.instance, err: err.message },
            'the checkpoint is unusable (its binlog is purged): starting over at the binlog end with a snapshot (cdc.snapshot.mode when_needed)',
          );
          restart = await this.initialCheckpoint(producer);
          continue;
        }
        if (!isShardlineError(err) || !err.retriable) throw err;
        failures++;
        metrics.reconnect(this.instance);
        const delayMs = backoffDelayMs(this.backoff, failures);
        logger.warn(
          { instance: this.instance, code: err.code, err: err.message, attempt: failures, delayMs },
          'instance reader failed; resuming from the last committed checkpoint',
        );
        await sleep(delayMs, this.stopped.signal, this.clock).catch(() => undefined);
      } finally {
        this.readingNow = false;
        metrics.reading(this.instance, false);
        await producer?.disconnect().catch(() => undefined);
      }
    }
  }

  /**
   * A `cdc snapshot` request seen on the signal topic: carried out (once per instance, after any
   * snapshot already running) when it concerns this instance.
   */
  requestSnapshot(request: SnapshotRequest): void {
    if (!this.requests.some((r) => r.id === request.id)) this.requests.push(request);
    this.snapshot?.request(request);
  }

  /** Asks the pipeline to finish the source transaction it is in, commit, and return from `run()`. */
  stop(): void {
    this.stopping = true;
    if (!this.batcher?.inTransaction) this.source?.close();
    this.stopped.abort();
  }

  /**
   * First start of an instance: record where its binlog ends now, before reading anything — and,
   * with `cdc.snapshot.mode` initial or when_needed, the plan of a snapshot of every captured
   * table, in the same Kafka transaction (both or neither).
   */
  private async initialCheckpoint(producer: TransactionalProducer): Promise<Checkpoint> {
    const maps = this.o.shardMaps;
    const latest = maps ? await maps.load('latest') : null;
    const checkpoint = await this.sources.current();
    if (maps && latest) {
      const ownership = new ShardOwnership(maps.base, this.instance);
      await this.takeOver(ownership, latest, checkpoint, checkpoint.epoch);
      checkpoint.shardMap = ownership.state();
    }
    const snapshot = this.o.snapshot;
    const plan = snapshot && snapshot.mode !== 'never' ? snapshotPlan(this.instance, 'initial', snapshot.tables(), this.clock.now()) : null;
    // where this reader wrote before (a start over after a purged binlog): sink progress still counts it
    if (Object.keys(this.written).length) checkpoint.written = { ...this.written };
    const txn = await producer.begin();
    await txn.send([this.o.checkpoints.message(checkpoint), ...(plan ? [snapshot!.store.planMessage(plan)] : [])]);
    await txn.commit();
    this.committedPlan = plan;
    this.o.logger.info(
      { instance: this.instance, at: `${checkpoint.file}:${checkpoint.pos}`, snapshotTables: plan?.tables.length ?? 0 },
      plan
        ? 'no checkpoint yet: starting at the current end of the binlog, with a snapshot of the rows that exist'
        : 'no checkpoint yet: starting at the current end of the binlog',
    );
    return checkpoint;
  }

  /** Reads the source from `from` and writes it to Kafka until the source ends; aborts the open Kafka transaction on any error. */
  private async pump(producer: TransactionalProducer, from: Checkpoint, healthy: () => void): Promise<void> {
    const { metrics } = this.o;
    this.pendingMap = null;
    this.ownership = await this.ownershipAt(from);
    const anyOwner = this.ownership ? null : undefined;
    const source = this.sources.open(
      from,
      (database, table) =>
        this.isMapTable(database, table) ||
        this.isArchivalMarker(database, table) ||
        captureTarget(this.o.rules(), this.instance, database, table, anyOwner) !== null,
    );
    const batcher = new KafkaBatcher({ ...this.o.batch, sendChunk: SEND_CHUNK });
    const rows = new RowMessages({ instance: this.instance, flavour: this.o.instance.flavour, topicPrefix: this.o.topicPrefix });
    const kafka = new KafkaTransactionWriter(
      producer,
      this.o.checkpoints,
      (seconds, events) => {
        this.written = kafka.writtenOffsets;
        metrics.kafkaCommit(this.instance, seconds, events);
        this.traces.kafkaCommitted();
        healthy();
      },
      this.written,
    );
    this.source = source;
    this.batcher = batcher;
    if (this.stopping) source.close();
    const items = new BatchedPull((source.batches?.() ?? singleItems(source.items()))[Symbol.asyncIterator](), this.clock);
    let woken = false;
    let at = from;
    const snapshot = this.o.snapshot
      ? await SnapshotDriver.open(
          this.o.snapshot,
          {
            instance: this.instance,
            flavour: this.o.instance.flavour,
            topicPrefix: this.o.topicPrefix,
            clock: this.clock,
            logger: this.o.logger,
            wake: () => {
              woken = true;
              items.interrupt();
            },
          },
          this.requests,
          this.committedPlan,
        )
      : null;
    this.committedPlan = null;
    this.snapshot = snapshot;
    try {
      for (;;) {
        if (snapshot && !batcher.inTransaction && !this.stopping) {
          const messages = await snapshot.take(at, source.facts?.serverUuid ?? null, this.idleNow, batcher.batchOpen);
          if (messages.length) await kafka.apply(batcher.insert(messages, this.clock.now()));
        }
        const wait = batcher.wait(this.clock.now(), this.stopping);
        if (wait.type === 'flush') {
          await kafka.apply(batcher.flush());
          if (this.stopping) source.close();
          continue;
        }
        const result = items.poll() ?? (wait.type === 'in-transaction' ? await items.next() : await items.next(wait.ms));
        if (result === null) {
          if (woken) woken = false;
          else if (wait.type === 'until-due') await kafka.apply(batcher.flush());
          else {
            metrics.idle(this.instance);
            this.idleNow = true;
          }
          continue;
        }
        if (result.done) break;
        this.idleNow = false;
        let item = result.value;
        if (item.type === 'commit' && this.ownership) {
          const pending = this.takePendingMap();
          if (pending) await this.takeOver(this.ownership, pending.map, pending.at, source.epoch);
          item = { ...item, checkpoint: Object.assign({}, item.checkpoint, { shardMap: this.ownership.state() }) };
        }
        // most items ask nothing of Kafka (rows are buffered until a chunk or the batch is full)
        const actions = this.handle(item, batcher, rows, source);
        if (actions.length) await kafka.apply(actions);
        if (item.type === 'commit') {
          at = item.checkpoint;
          if (this.stopping) source.close();
        }
      }
      await kafka.apply(batcher.flush());
    } catch (err) {
      await kafka.abort();
      this.traces.kafkaFailed(err);
      source.close();
      throw err;
    } finally {
      this.source = null;
      this.batcher = null;
      this.snapshot = null;
      await snapshot?.stop();
    }
  }

  /** What one source item asks of Kafka. */
  private handle(item: TransactionItem, batcher: KafkaBatcher, rows: RowMessages, source: TransactionSource): BatchAction[] {
    switch (item.type) {
      case 'begin':
        this.archivalTables.clear();
        rows.begin(item);
        this.snapshot?.begin(item.gtid);
        this.traces.begin();
        return batcher.begin(this.clock.now());
      case 'rows': {
        if (item.event.filtered) return [];
        if (this.ownership && this.isMapTable(item.event.table.database, item.event.table.table)) {
          this.noteMap(item.event, this.ownership);
          return [];
        }
        if (this.isArchivalMarker(item.event.table.database, item.event.table.table)) {
          for (const t of archivalMarkerTargets(item.event)) this.archivalTables.add(t);
          return [];
        }
        const target = captureTarget(this.o.rules(), this.instance, item.event.table.database, item.event.table.table, this.ownership?.map);
        if (!target) return [];
        const epoch = this.ownership ? this.ownership.epochFor(target.shard, source.epoch) : source.epoch;
        const archival = this.archivalTables.size > 0 && this.archivalTables.has(`${item.event.table.database}.${item.event.table.table}`);
        const messages = rows.of(item.event, target, source.facts?.serverUuid ?? null, epoch, archival);
        this.o.metrics.rows(this.instance, target.logical, messages.length);
        this.traces.messages(messages);
        this.snapshot?.rows(item.event, messages);
        return batcher.rows(messages);
      }
      case 'query':
        return [];
      case 'commit':
        this.o.metrics.transaction(this.instance, rows.commitTimeMs());
        this.traces.sourceCommitted(item.gtid, item.checkpoint);
        this.snapshot?.commit(item.checkpoint, this.clock.now());
        return batcher.commit(Object.assign({}, item.checkpoint, { sourceTsUs: rows.commitTimeMs() * 1000 }), this.stopping);
      case 'abort':
        this.pendingMap = null;
        throw new ReplicationError('BINLOG_CONNECTION', `instance ${this.instance}: ${item.reason}`, { retriable: true });
    }
  }

  private takePendingMap(): { map: ShardMap; at: { file: string; pos: number } } | null {
    const pending = this.pendingMap;
    this.pendingMap = null;
    return pending;
  }

  private isArchivalMarker(database: string, table: string): boolean {
    return table === ARCHIVAL_MARKER_TABLE && database === this.o.metaDatabase;
  }

  private isMapTable(database: string, table: string): boolean {
    return table === 'shard_map' && this.o.shardMaps !== undefined && database === this.o.shardMaps.metaDatabase;
  }

  /** The shards owned at `from`: the checkpoint's shard-map version, else (a checkpoint of an older release) the latest published. */
  private async ownershipAt(from: Checkpoint): Promise<ShardOwnership | null> {
    const maps = this.o.shardMaps;
    if (!maps) return null;
    if (from.shardMap) return new ShardOwnership(await maps.load(from.shardMap.version), this.instance, from.shardMap.adopted ?? []);
    return new ShardOwnership(await maps.load('latest'), this.instance);
  }

  /** A row of `<metaDatabase>.shard_map` in the binlog: a new version, adopted when its transaction commits. */
  private noteMap(event: RowsEvent, ownership: ShardOwnership): void {
    for (const row of event.rows) {
      const after = row.after;
      if (!after) continue;
      const version = Number(after['version']);
      const ranges = Buffer.isBuffer(after['ranges']) ? after['ranges'].toString('utf8') : String(after['ranges']);
      const newest = this.pendingMap?.map.version ?? ownership.map.version;
      if (!Number.isInteger(version) || version <= newest) continue;
      this.pendingMap = { map: ShardMap.fromJson(version, ownership.map.shardCount, ranges), at: { file: event.file, pos: event.pos } };
    }
  }

  /**
   * Adopts `next` at `at`. Shards it gives this instance continue their versions above every
   * version published for them so far: the reader first waits until the reader of each previous
   * owner has passed the same version in its own binlog (so every change it published for them is
   * committed before any of this instance's, and their order per key in Kafka holds).
   * @throws {ReplicationError} SHARD_HANDOFF (retriable) when a previous owner's reader does not get there in `handoffWaitMs`
   */
  private async takeOver(
    ownership: ShardOwnership,
    next: ShardMap,
    at: { file: string; pos: number },
    epoch: VersionEpoch | undefined,
  ): Promise<void> {
    const { gained, lost } = ownership.changes(next);
    const adopted: AdoptedShards[] = [];
    if (gained.size) {
      const peers = new Set(this.o.peers ?? []);
      const named = [...ownership.map.ranges(), ...next.ranges()].map((r) => r.instance);
      const others = [...new Set(named)].filter((i) => i !== this.instance && peers.has(i));
      const checkpoints = await this.awaitPreviousOwners(
        [...gained.keys()].filter((i) => peers.has(i)),
        others,
        next.version,
      );
      const origin = versionIn(epoch, { file: at.file, pos: at.pos, row: 0 });
      for (const [from, shards] of gained) {
        const base = handoffBase(shards, [...checkpoints.values()]);
        if (base > 0n)
          adopted.push({ ranges: shardRanges(shards), base: base.toString(), origin: origin.toString(), map: next.version, from });
      }
    }
    if (gained.size || lost.length)
      this.o.logger.info(
        {
          instance: this.instance,
          shardMap: next.version,
          at: `${at.file}:${at.pos}`,
          gained: [...gained].map(
            ([from, shards]) =>
              `${shardRanges(shards)
                .map(([a, b]) => (a === b ? a : `${a}-${b}`))
                .join(',')} from ${from}`,
          ),
          lost: shardRanges(lost).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)),
        },
        'shard map changed in the binlog: the stream of the moved shards switches here',
      );
    ownership.adopt(next, adopted);
  }

  private async awaitPreviousOwners(
    previous: readonly string[],
    others: readonly string[],
    version: number,
  ): Promise<Map<string, Checkpoint>> {
    const deadline = this.clock.now() + (this.o.handoffWaitMs ?? 20_000);
    let warned = false;
    for (;;) {
      const checkpoints = await this.o.checkpoints.loadAll(others);
      const behind = previous.filter((i) => {
        const cp = checkpoints.get(i);
        return cp !== undefined && (cp.shardMap?.version ?? 0) < version;
      });
      if (behind.length === 0) return checkpoints;
      if (this.stopping || this.clock.now() >= deadline)
        throw new ReplicationError(
          'SHARD_HANDOFF',
          `instance ${this.instance} takes shards over at shard-map version ${version} and waits for the reader of ${behind.join(', ')} to get there first (its checkpoint is at version ${checkpoints.get(behind[0]!)?.shardMap?.version ?? 'unknown'}); reading again from the checkpoint`,
          { retriable: true },
        );
      if (!warned && this.clock.now() >= deadline - (this.o.handoffWaitMs ?? 20_000) + 3000) {
        warned = true;
        this.o.logger.warn(
          { instance: this.instance, shardMap: version, waitingFor: behind },
          "shard takeover waits for the previous owner's reader",
        );
      }
      await sleep(250, this.stopped.signal, this.clock).catch(() => undefined);
    }
  }
}

/**
 * The physical tables (`db.table`) an archival marker rows event names: inserted rows of
 * `<metaDatabase>.archival_batches` (the job writes one first in each batch's transaction).
 */
export function archivalMarkerTargets(event: Pick<RowsEvent, 'rows'>): string[] {
  const text = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'string' ? v : null);
  const out: string[] = [];
  for (const row of event.rows) {
    if (!row.after || row.before) continue;
    const db = text(row.after['physical_db']);
    const table = text(row.after['physical_table']);
    if (db !== null && table !== null) out.push(`${db}.${table}`);
  }
  return out;
}
