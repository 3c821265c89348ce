import { setTimeout as sleep } from 'node:timers/promises';
import { BinlogReader } from '../binlog/syncer/binlog-reader.js';
import { TransactionStream } from '../binlog/syncer/transaction-stream.js';
import type { TransactionItem } from '../binlog/syncer/transaction-items.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import type { CheckpointStore } from '../checkpoint/checkpoint-store.js';
import type { EventLog, OutboundMessage, ProducerTransaction, TransactionalProducer } from '../kafka/event-log.js';
import type { CdcMetrics } from '../metrics/cdc-metrics.js';
import { captureTarget, type CaptureRules } from './capture-rules.js';
import { changeMessages } from './change-messages.js';
import { TimedPull } from './timed-pull.js';
import { ShardlineError, isShardlineError } from '../../errors/index.js';
import type { InstanceConfig } from '../../config/index.js';
import type { Logger } from '../../log/logger.js';

/** Options of an {@link InstancePipeline}. */
export interface InstancePipelineOptions {
  instance: InstanceConfig;
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
}

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
  private stream: TransactionStream | null = null;
  private inSource = false;
  private readingNow = false;
  private idleNow = false;

  constructor(private readonly o: InstancePipelineOptions) {}

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
    while (!this.stopping) {
      let producer: TransactionalProducer | null = null;
      try {
        producer = await this.o.log.transactionalProducer(this.o.transactionalId);
        const checkpoint = (await this.o.checkpoints.load(this.instance)) ?? (await this.initialCheckpoint(producer));
        logger.info({ instance: this.instance, from: `${checkpoint.file}:${checkpoint.pos}`, gtidSet: checkpoint.gtidSet }, 'reading the binlog');
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
          logger.info({ instance: this.instance, err: err.message }, 'stopped inside a transaction; it was not committed and is read again on the next start');
          return;
        }
        if (!isShardlineError(err) || !err.retriable) throw err;
        failures++;
        metrics.reconnect(this.instance);
        const delayMs = Math.round(Math.random() * Math.min(30_000, 250 * 2 ** Math.min(failures, 10)));
        logger.warn({ instance: this.instance, code: err.code, err: err.message, attempt: failures, delayMs }, 'instance reader failed; resuming from the last committed checkpoint');
        await sleep(delayMs, undefined, { signal: this.stopped.signal }).catch(() => undefined);
      } finally {
        this.readingNow = false;
        metrics.reading(this.instance, false);
        await producer?.disconnect().catch(() => undefined);
      }
    }
  }

  /** Asks the pipeline to finish the source transaction it is in, commit, and return from `run()`. */
  stop(): void {
    this.stopping = true;
    if (!this.inSource) this.stream?.close();
    this.stopped.abort();
  }

  /** First start of an instance: record where its binlog ends now, before reading anything. */
  private async initialCheckpoint(producer: TransactionalProducer): Promise<Checkpoint> {
    const { instance } = this.o;
    const reader = await BinlogReader.open({ instance: instance.name, endpoint: { name: instance.name, host: instance.host, port: instance.port, ...instance.replication, tls: instance.tls, serverPublicKey: instance.serverPublicKey }, replicaServerId: this.o.replicaServerId, from: 'current' });
    const f = reader.facts;
    reader.close();
    const checkpoint: Checkpoint = { instance: instance.name, flavour: f.flavour, serverUuid: f.serverUuid, serverId: f.serverId, file: f.current.file, pos: f.current.pos, gtidSet: null };
    const txn = await producer.begin();
    await txn.send([this.o.checkpoints.message(checkpoint)]);
    await txn.commit();
    this.o.logger.info({ instance: instance.name, at: `${checkpoint.file}:${checkpoint.pos}` }, 'no checkpoint yet: starting at the current end of the binlog');
    return checkpoint;
  }

  private async pump(producer: TransactionalProducer, from: Checkpoint, healthy: () => void): Promise<void> {
    const { instance, metrics, batch } = this.o;
    const stream = new TransactionStream({
      instance: instance.name,
      endpoint: { name: instance.name, host: instance.host, port: instance.port, ...instance.replication, tls: instance.tls, serverPublicKey: instance.serverPublicKey },
      replicaServerId: this.o.replicaServerId,
      from,
      heartbeatMs: this.o.heartbeatMs ?? 5000,
      retry: { maxAttempts: 0 },
      includeTable: (database, table) => captureTarget(this.o.rules(), instance.name, database, table) !== null,
    });
    this.stream = stream;
    if (this.stopping) stream.close();
    const it = stream.items()[Symbol.asyncIterator]();
    let txn: ProducerTransaction | null = null;
    let buffer: OutboundMessage[] = [];
    let batchEvents = 0;
    let batchStart = 0;
    let pending: Checkpoint | null = null;
    let gtid: string | null = null;
    let commitUs: bigint | null = null;
    let beginTs = 0;
    let lastPos = -1;
    let rowBase = 0;

    const commitBatch = async () => {
      if (!txn) return;
      const t = txn;
      txn = null;
      if (buffer.length) await t.send(buffer);
      buffer = [];
      if (pending) await t.send([this.o.checkpoints.message(pending)]);
      const started = process.hrtime.bigint();
      await t.commit();
      metrics.kafkaCommit(instance.name, Number(process.hrtime.bigint() - started) / 1e9, batchEvents);
      pending = null;
      batchEvents = 0;
      healthy();
    };

    const handle = async (item: TransactionItem) => {
      switch (item.type) {
        case 'begin':
          this.inSource = true;
          gtid = item.gtid;
          commitUs = item.commitUs;
          beginTs = item.timestamp;
          if (!txn) {
            txn = await producer.begin();
            batchStart = Date.now();
          }
          return;
        case 'rows': {
          if (item.event.filtered) return;
          const target = captureTarget(this.o.rules(), instance.name, item.event.table.database, item.event.table.table);
          if (!target) return;
          rowBase = item.event.pos === lastPos ? rowBase : 0;
          lastPos = item.event.pos;
          const { messages } = changeMessages(item.event, target, { instance: instance.name, flavour: instance.flavour, serverUuid: stream.facts?.serverUuid ?? null, gtid, commitUs, topicPrefix: this.o.topicPrefix }, rowBase);
          rowBase += messages.length;
          for (const m of messages) buffer.push(m);
          batchEvents += messages.length;
          metrics.rows(instance.name, target.logical, messages.length);
          if (buffer.length >= SEND_CHUNK) {
            const out = buffer;
            buffer = [];
            await txn!.send(out);
          }
          return;
        }
        case 'query':
          return;
        case 'commit':
          this.inSource = false;
          pending = item.checkpoint;
          metrics.transaction(instance.name, commitUs !== null ? Number(commitUs / 1000n) : beginTs * 1000);
          if (batchEvents >= batch.maxEvents || this.stopping) await commitBatch();
          if (this.stopping) stream.close();
          return;
        case 'abort':
          throw new ShardlineError('BINLOG_CONNECTION', `instance ${instance.name}: ${item.reason}`, { retriable: true });
      }
    };

    const items = new TimedPull(it);
    try {
      for (;;) {
        let result: IteratorResult<TransactionItem> | null;
        if (txn && !this.inSource) {
          const remaining = batchStart + batch.maxMs - Date.now();
          if (remaining <= 0 || this.stopping) {
            await commitBatch();
            if (this.stopping) stream.close();
            continue;
          }
          result = await items.next(remaining);
          if (result === null) {
            await commitBatch();
            continue;
          }
        } else if (!txn) {
          result = await items.next(1000);
          if (result === null) {
            metrics.idle(instance.name);
            this.idleNow = true;
            continue;
          }
        } else result = await items.next();
        if (result.done) break;
        this.idleNow = false;
        await handle(result.value);
      }
      await commitBatch();
    } catch (err) {
      const t = txn as ProducerTransaction | null;
      await t?.abort().catch(() => undefined);
      stream.close();
      throw err;
    } finally {
      this.stream = null;
      this.inSource = false;
    }
  }
}
