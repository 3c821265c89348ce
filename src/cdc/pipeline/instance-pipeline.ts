import type { TransactionItem } from '../binlog/syncer/transaction-items.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import type { CheckpointStore } from '../checkpoint/checkpoint-store.js';
import type { EventLog, TransactionalProducer } from '../kafka/event-log.js';
import type { CdcMetrics } from '../metrics/cdc-metrics.js';
import { captureTarget, type CaptureRules } from './capture-rules.js';
import { KafkaBatcher, type BatchAction } from './kafka-batcher.js';
import { KafkaTransactionWriter } from './kafka-transaction-writer.js';
import { RowMessages } from './row-messages.js';
import { SnapshotDriver, snapshotPlan, type PipelineSnapshot } from './snapshot-driver.js';
import type { SnapshotPlan } from '../snapshot/snapshot-store.js';
import type { SnapshotRequest } from '../snapshot/snapshot-request.js';
import { TimedPull } from './timed-pull.js';
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
  private idleNow = false;
  private readonly sources: TransactionSources;
  private readonly clock: Clock;
  private readonly backoff: BackoffPolicy;
  private readonly traces: KafkaCommitTraces;

  constructor(private readonly o: InstancePipelineOptions) {
    this.sources =
      o.sources ?? binlogSources({ instance: o.instance, replicaServerId: o.replicaServerId, heartbeatMs: o.heartbeatMs ?? 5000 });
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
    const checkpoint = await this.sources.current();
    const snapshot = this.o.snapshot;
    const plan = snapshot && snapshot.mode !== 'never' ? snapshotPlan(this.instance, 'initial', snapshot.tables(), this.clock.now()) : null;
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
    const source = this.sources.open(from, (database, table) => captureTarget(this.o.rules(), this.instance, database, table) !== null);
    const batcher = new KafkaBatcher({ ...this.o.batch, sendChunk: SEND_CHUNK });
    const rows = new RowMessages({ instance: this.instance, flavour: this.o.instance.flavour, topicPrefix: this.o.topicPrefix });
    const kafka = new KafkaTransactionWriter(producer, this.o.checkpoints, (seconds, events) => {
      metrics.kafkaCommit(this.instance, seconds, events);
      this.traces.kafkaCommitted();
      healthy();
    });
    this.source = source;
    this.batcher = batcher;
    if (this.stopping) source.close();
    const items = new TimedPull(source.items()[Symbol.asyncIterator](), this.clock);
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
        const result = wait.type === 'in-transaction' ? await items.next() : await items.next(wait.ms);
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
        await kafka.apply(this.handle(result.value, batcher, rows, source));
        if (result.value.type === 'commit') {
          at = result.value.checkpoint;
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
        rows.begin(item);
        this.snapshot?.begin(item.gtid);
        this.traces.begin();
        return batcher.begin(this.clock.now());
      case 'rows': {
        if (item.event.filtered) return [];
        const target = captureTarget(this.o.rules(), this.instance, item.event.table.database, item.event.table.table);
        if (!target) return [];
        const messages = rows.of(item.event, target, source.facts?.serverUuid ?? null);
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
        return batcher.commit(item.checkpoint, this.stopping);
      case 'abort':
        throw new ReplicationError('BINLOG_CONNECTION', `instance ${this.instance}: ${item.reason}`, { retriable: true });
    }
  }
}
