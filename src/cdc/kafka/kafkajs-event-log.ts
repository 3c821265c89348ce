import { randomUUID } from 'node:crypto';
import { kafkajs } from './kafkajs-loader.js';
import type { Admin, Consumer, Kafka, Message as KafkaMessage, PartitionMetadata, Producer } from '@shardline/kafkajs';
import { ConnectionSecurityError, KafkaError, type ShardlineError } from '../../errors/index.js';
import type { KafkaCompression } from './compression.js';
import { kafkajsSecurity, tlsCodeOf, type KafkaSecurity } from './kafka-security.js';
import type { Logger } from '../../log/logger.js';
import type {
  EventLog,
  GroupConsumer,
  GroupConsumerOptions,
  InboundMessage,
  OutboundMessage,
  ProducerTransaction,
  TopicSpec,
  TransactionalProducer,
  WrittenOffset,
} from './event-log.js';
import { topicPartition } from './event-log.js';
import { keyedPartition } from './murmur2.js';
import { chunkByPartitionBytes, PARTITION_BYTES_PER_REQUEST, recordBytes, recordBytesBound } from './request-chunks.js';

const { Kafka: KafkaClient, logLevel, CompressionTypes, Partitioners } = kafkajs;
/** How long a topic's partition count is trusted before it is read again (ms). */
const PARTITION_COUNT_TTL_MS = 60_000;
const COMPRESSION_TYPES: Record<KafkaCompression, number> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  lz4: CompressionTypes.LZ4,
};

/** kafkajs's ConfigResourceTypes.TOPIC. */
const TOPIC_RESOURCE = 2;

/** A message on its way into one produce request. */
interface Placed {
  topic: string;
  at: string;
  bytes: number;
  message: KafkaMessage;
}

function tooLarge(topic: string, bytes: number, limit: number): KafkaError {
  return new KafkaError(
    'KAFKA_MESSAGE_TOO_LARGE',
    `a change event of ${bytes} bytes for topic ${topic} is larger than cdc.maxEventBytes (${limit}): nothing of its transaction was committed; raise cdc.maxEventBytes (and the topic's max.message.bytes) to publish it`,
    { retriable: false, details: { topic, bytes, limit } },
  );
}

/** Connection settings of the Kafka event log. */
export interface KafkaEventLogOptions {
  brokers: string[];
  clientId: string;
  logger?: Logger;
  /** Kafka transaction timeout (the broker aborts a transaction left open longer). */
  transactionTimeoutMs?: number;
  /** TLS and SASL (the `kafka.tls` / `kafka.sasl` config sections). */
  security?: KafkaSecurity;
  /** Retries of a failed connect or request (default 8, about 16 s of back-off in all). */
  retries?: number;
  /** How the record batches of transactional producers are compressed (default none). */
  compression?: KafkaCompression;
  /**
   * The largest record a transactional producer sends (key, value and headers, uncompressed); a
   * larger one fails the send with `KAFKA_MESSAGE_TOO_LARGE` before anything of it goes out
   * (default {@link DEFAULT_MAX_EVENT_BYTES}). Topics created with `maxMessageBytes` accept it.
   */
  maxEventBytes?: number;
}

/** `cdc.maxEventBytes`'s default: 8 MiB (what managed Kafka services commonly allow per topic). */
export const DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024;

const TOO_LARGE_TYPES = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

function headersOf(h: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in h) {
    const v = h[k];
    if (v !== undefined) out[k] = Array.isArray(v) ? String(v[v.length - 1]) : String(v);
  }
  return out;
}

function kafkaError(err: unknown, what: string): ShardlineError {
  const e = err as { name?: string; message?: string; retriable?: boolean; type?: string };
  const tlsCode = tlsCodeOf(err);
  if (tlsCode)
    return new ConnectionSecurityError('TLS_FAILED', `${what}: TLS to the Kafka brokers failed (${tlsCode}): check kafka.tls (ca, mode)`, {
      cause: err,
      details: { tlsCode },
    });
  if (e.name === 'KafkaJSSASLAuthenticationError' || /SASL|authentication/i.test(e.message ?? '')) {
    return new ConnectionSecurityError('AUTH_FAILED', `${what}: the Kafka brokers refused the SASL login: ${e.message ?? String(err)}`, {
      cause: err,
    });
  }
  if (e.type !== undefined && TOO_LARGE_TYPES.has(e.type)) {
    return new KafkaError(
      'KAFKA_MESSAGE_TOO_LARGE',
      `${what}: the broker refused a record batch larger than the topic's max.message.bytes: raise it on the change topics (kafka-configs --alter --add-config max.message.bytes=…) to at least cdc.maxEventBytes`,
      { cause: err, retriable: false },
    );
  }
  const fenced = e.type === 'INVALID_PRODUCER_EPOCH' || e.type === 'PRODUCER_FENCED' || /fenced|epoch/i.test(e.message ?? '');
  return new KafkaError(fenced ? 'KAFKA_FENCED' : 'KAFKA', `${what}: ${e.message ?? String(err)}`, { cause: err, retriable: !fenced });
}

/**
 * How long a group consumer's fetch waits on the broker for records before it asks again. A fetch
 * returns as soon as a record arrives, so this costs no latency; it bounds what an idle consumer
 * costs the worker and the broker (measured idle worker: 0.037 cores at 500 ms, 0.027 at 2,000)
 * and how long a consumer's stop waits for its fetch in flight (the worker stops them in parallel).
 */
const IDLE_FETCH_WAIT_MS = 2000;
/**
 * Default group session timeout: a member whose heartbeats stop for this long is expelled. 6 s
 * expelled sink consumers whose event loop stalled under a 1M-row load (each expiry: a rebalance
 * and a re-read from the last commit); a crashed worker's partitions move after this long.
 */
const SESSION_TIMEOUT_MS = 20_000;

/** Connects a kafkajs client; resolves with it once connected. */
async function connected<T extends { connect(): Promise<void> }>(client: T): Promise<T> {
  await client.connect();
  return client;
}

/** The kafkajs implementation of {@link EventLog}. */
export class KafkajsEventLog implements EventLog {
  private readonly kafka: Kafka;
  /**
   * Connected once, shared: the promise, not the client, is kept, so that concurrent first
   * callers (sink runners handle partitions concurrently) share one client rather than each
   * connecting one of which all but the last would never be disconnected — their sockets kept
   * the worker alive after SIGTERM.
   */
  private admin: Promise<Admin> | null = null;
  private plain: Promise<Producer> | null = null;
  private readonly closers = new Set<() => Promise<void>>();
  private readonly partitionMetadata = new Map<string, { at: number; partitionMetadata: PartitionMetadata[] }>();
  /** kafkajs's default (Java-compatible murmur2) partitioner: keys land where any Kafka client puts them. */
  private readonly partitioner = Partitioners.DefaultPartitioner();

  constructor(private readonly options: KafkaEventLogOptions) {
    const log = options.logger;
    this.kafka = new KafkaClient({
      clientId: options.clientId,
      brokers: options.brokers,
      ...kafkajsSecurity(options.security ?? {}),
      retry: { retries: options.retries ?? 8, initialRetryTime: 100, maxRetryTime: 5000 },
      logLevel: logLevel.WARN,
      logCreator: () => (entry) => {
        const { message, ...extra } = entry.log;
        // kafkajs logs ERROR for conditions it retries (e.g. CONCURRENT_TRANSACTIONS while the
        // previous transaction's markers are written); failures that remain reach shardline as errors.
        if (
          entry.level <= logLevel.ERROR &&
          !/concurrent operation|Restarting the consumer/i.test(`${message} ${String((extra as { error?: unknown }).error ?? '')}`)
        )
          log?.warn({ kafka: entry.namespace, ...extra }, message);
        else log?.debug({ kafka: entry.namespace, ...extra }, message);
      },
    });
  }

  private adminClient(): Promise<Admin> {
    if (!this.admin) {
      const admin = connected(this.kafka.admin());
      this.admin = admin;
      admin.catch(() => {
        if (this.admin === admin) this.admin = null; // the next call connects again
      });
    }
    return this.admin;
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    try {
      const admin = await this.adminClient();
      const existing = new Set(await admin.listTopics());
      const present = specs.filter((s) => existing.has(s.topic));
      if (present.length) {
        const meta = await admin.fetchTopicMetadata({ topics: present.map((s) => s.topic) });
        const grow = present.flatMap((s) => {
          const have = meta.topics.find((t) => t.name === s.topic)?.partitions.length ?? s.partitions;
          return have < s.partitions ? [{ topic: s.topic, count: s.partitions }] : [];
        });
        if (grow.length) await admin.createPartitions({ topicPartitions: grow });
        await this.warnSmallTopics(admin, present);
      }
      const missing = specs.filter((s) => !existing.has(s.topic));
      if (missing.length === 0) return;
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: s.partitions,
          replicationFactor: s.replicationFactor,
          configEntries: [
            ...(s.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : []),
            ...(s.maxMessageBytes !== undefined ? [{ name: 'max.message.bytes', value: String(s.maxMessageBytes) }] : []),
          ],
        })),
      });
    } catch (err) {
      if ((err as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return;
      throw kafkaError(err, 'cannot create topics');
    }
  }

  /** An existing topic whose `max.message.bytes` is below what its spec asks for: a warning (its configs are the operator's). */
  private async warnSmallTopics(admin: Admin, present: readonly TopicSpec[]): Promise<void> {
    const wanted = present.filter((s) => s.maxMessageBytes !== undefined);
    if (wanted.length === 0) return;
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: wanted.map((s) => ({ type: TOPIC_RESOURCE, name: s.topic, configNames: ['max.message.bytes'] })),
    });
    for (const r of described.resources) {
      const have = Number(r.configEntries.find((c) => c.configName === 'max.message.bytes')?.configValue);
      const want = wanted.find((s) => s.topic === r.resourceName)?.maxMessageBytes ?? 0;
      if (Number.isFinite(have) && have < want) {
        this.options.logger?.warn(
          { topic: r.resourceName, maxMessageBytes: have, maxEventBytes: want },
          `topic ${r.resourceName} accepts record batches up to ${have} bytes (max.message.bytes), less than cdc.maxEventBytes (${want}): a larger change event stops its reader; raise it with kafka-configs --alter --entity-type topics --entity-name ${r.resourceName} --add-config max.message.bytes=${want}`,
        );
      }
    }
  }

  async transactionalProducer(transactionalId: string): Promise<TransactionalProducer> {
    const producer = this.kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.options.transactionTimeoutMs ?? 60_000,
    });
    try {
      await producer.connect();
    } catch (err) {
      throw kafkaError(err, `cannot start the transactional producer ${transactionalId}`);
    }
    const close = () => producer.disconnect();
    this.closers.add(close);
    const compression = COMPRESSION_TYPES[this.options.compression ?? 'none'];
    const maxEventBytes = this.options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    return {
      begin: async (): Promise<ProducerTransaction> => {
        let txn: Awaited<ReturnType<Producer['transaction']>>;
        try {
          txn = await producer.transaction();
        } catch (err) {
          throw kafkaError(err, 'cannot begin a Kafka transaction');
        }
        return {
          send: async (messages: readonly OutboundMessage[]): Promise<WrittenOffset[]> => {
            if (messages.length === 0) return [];
            // partitions chosen here (as the producer would) so that each one's last offset is known
            const last = new Map<string, WrittenOffset>();
            // one produce request: its messages per topic, and how many of them each partition got
            const request = async (topics: Map<string, { messages: KafkaMessage[]; counts: Map<number, number> }>) => {
              const sent = await txn.sendBatch({
                acks: -1,
                compression,
                topicMessages: [...topics].map(([topic, t]) => ({ topic, messages: t.messages })),
              });
              for (const r of sent) {
                const n = topics.get(r.topicName)?.counts.get(r.partition) ?? 1;
                const at = topicPartition(r.topicName, r.partition);
                last.set(at, {
                  topic: r.topicName,
                  partition: r.partition,
                  at,
                  lastOffset: String(BigInt(r.baseOffset ?? '0') + BigInt(n - 1)),
                });
              }
            };
            try {
              // sizes from string lengths first (an upper bound, O(1) per string); exact bytes and
              // several requests only when a partition's bound may not fit in one
              const topics = new Map<
                string,
                {
                  messages: KafkaMessage[];
                  counts: Map<number, number>;
                  bound: Map<number, number>;
                  partitionOf: (m: OutboundMessage) => number;
                }
              >();
              const placed: KafkaMessage[] = [];
              let fits = true;
              for (const m of messages) {
                let t = topics.get(m.topic);
                if (!t)
                  topics.set(
                    m.topic,
                    (t = { messages: [], counts: new Map(), bound: new Map(), partitionOf: await this.partitionerOf(m.topic) }),
                  );
                const partition = m.partition ?? t.partitionOf(m);
                const message = { key: m.key, value: m.value, headers: m.headers, partition };
                t.messages.push(message);
                placed.push(message);
                t.counts.set(partition, (t.counts.get(partition) ?? 0) + 1);
                const bytes = recordBytesBound(m);
                const sum = (t.bound.get(partition) ?? 0) + bytes;
                t.bound.set(partition, sum);
                if (bytes > maxEventBytes || sum > PARTITION_BYTES_PER_REQUEST) fits = false;
              }
              if (fits) {
                await request(topics);
                return [...last.values()];
              }
              const sized: Placed[] = messages.map((m, i) => {
                const bytes = recordBytes(m);
                if (bytes > maxEventBytes) throw tooLarge(m.topic, bytes, maxEventBytes);
                const message = placed[i]!;
                return { topic: m.topic, at: topicPartition(m.topic, message.partition!), bytes, message };
              });
              // in order: a partition's record batch stays below the topic's limit
              for (const chunk of chunkByPartitionBytes(
                sized,
                (p) => p.bytes,
                (p) => p.at,
                PARTITION_BYTES_PER_REQUEST,
              )) {
                const part = new Map<string, { messages: KafkaMessage[]; counts: Map<number, number> }>();
                for (const p of chunk) {
                  let t = part.get(p.topic);
                  if (!t) part.set(p.topic, (t = { messages: [], counts: new Map() }));
                  t.messages.push(p.message);
                  t.counts.set(p.message.partition!, (t.counts.get(p.message.partition!) ?? 0) + 1);
                }
                await request(part);
              }
            } catch (err) {
              if (err instanceof KafkaError && err.code === 'KAFKA_MESSAGE_TOO_LARGE') throw err;
              throw kafkaError(err, 'cannot send in the Kafka transaction');
            }
            return [...last.values()];
          },
          commit: async () => {
            try {
              await txn.commit();
            } catch (err) {
              throw kafkaError(err, 'cannot commit the Kafka transaction');
            }
          },
          abort: async () => {
            try {
              if (txn.isActive()) await txn.abort();
            } catch (err) {
              throw kafkaError(err, 'cannot abort the Kafka transaction');
            }
          },
        };
      },
      disconnect: async () => {
        this.closers.delete(close);
        await producer.disconnect();
      },
    };
  }

  async send(messages: readonly OutboundMessage[]): Promise<void> {
    if (!this.plain) {
      const plain = connected(this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 }));
      this.plain = plain;
      plain.catch(() => {
        if (this.plain === plain) this.plain = null; // the next call connects again
      });
    }
    try {
      const producer = await this.plain;
      for (const m of messages)
        await producer.send({ topic: m.topic, acks: -1, messages: [{ key: m.key, value: m.value, headers: m.headers }] });
    } catch (err) {
      throw kafkaError(err, 'cannot send');
    }
  }

  consumer(options: GroupConsumerOptions): GroupConsumer {
    const consumer: Consumer = this.kafka.consumer({
      groupId: options.groupId,
      readUncommitted: false,
      sessionTimeout: options.sessionTimeoutMs ?? SESSION_TIMEOUT_MS,
      heartbeatInterval: Math.max(500, Math.floor((options.sessionTimeoutMs ?? SESSION_TIMEOUT_MS) / 5)),
      maxWaitTimeInMs: IDLE_FETCH_WAIT_MS,
    });
    if (options.onAssignment) {
      const cb = options.onAssignment;
      consumer.on(consumer.events.GROUP_JOIN, (e) => cb(e.payload.memberAssignment));
    }
    if (options.onState) {
      const cb = options.onState;
      consumer.on(consumer.events.FETCH, () => cb({ ok: true }));
      consumer.on(consumer.events.CRASH, (e) => cb({ ok: false, error: e.payload.error, restarting: e.payload.restart }));
    }
    const stop = async () => {
      this.closers.delete(stop);
      await consumer.disconnect();
      if (options.ephemeral) await this.deleteGroup(options.groupId);
    };
    this.closers.add(stop);
    return {
      run: async (eachBatch) => {
        await consumer.connect();
        await consumer.subscribe({ topics: [...options.topics], fromBeginning: options.fromBeginning ?? true });
        await consumer.run({
          autoCommit: options.ephemeral !== true,
          eachBatchAutoResolve: true,
          partitionsConsumedConcurrently: options.partitionsConcurrently ?? 1,
          eachBatch: async ({ batch, heartbeat }) => {
            const beat = setInterval(() => void heartbeat().catch(() => undefined), 2000);
            try {
              await eachBatch({
                topic: batch.topic,
                partition: batch.partition,
                messages: batch.messages.map((m) => ({ key: m.key, value: m.value, offset: m.offset, headers: headersOf(m.headers) })),
              });
            } finally {
              clearInterval(beat);
            }
          },
        });
      },
      stop,
    };
  }

  async readToEnd(topic: string, partitions?: readonly number[]): Promise<InboundMessage[]> {
    let ends: Awaited<ReturnType<Admin['fetchTopicOffsets']>>;
    let admin: Admin;
    try {
      admin = await this.adminClient();
      // a topic nobody created yet holds nothing (kafkajs would retry its metadata for ~16 s, then fail)
      if (!(await admin.listTopics()).includes(topic)) return [];
      // kafkajs lists offsets read_committed: `high` is the last stable offset.
      ends = await admin.fetchTopicOffsets(topic);
    } catch (err) {
      // E.g. NOT_LEADER_FOR_PARTITION while a new topic's leaders settle: retriable, typed.
      throw kafkaError(err, `cannot read the offsets of ${topic}`);
    }
    const pending = new Map(
      ends
        .filter((e) => BigInt(e.high) > BigInt(e.low) && (!partitions || partitions.includes(e.partition)))
        .map((e) => [e.partition, BigInt(e.high)]),
    );
    const out: InboundMessage[] = [];
    if (pending.size === 0) return out;
    const groupId = `shardline-reader-${randomUUID()}`;
    const consumer = this.kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 100 });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const done = (partition: number, lastOffset: string) => {
          const high = pending.get(partition);
          if (high !== undefined && BigInt(lastOffset) + 1n >= high) pending.delete(partition);
          if (pending.size === 0) resolve();
        };
        consumer.on(consumer.events.END_BATCH_PROCESS, (e) => done(e.payload.partition, e.payload.lastOffset));
        // kafkajs reports every crash, also the retriable ones it restarts from (a group
        // coordinator still loading on a fresh broker): only a crash it gives up on fails the read.
        consumer.on(consumer.events.CRASH, (e) => {
          if (!e.payload.restart) reject(kafkaError(e.payload.error, `cannot read ${topic}`));
        });
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              if (partitions && !partitions.includes(batch.partition)) return;
              for (const m of batch.messages) out.push({ key: m.key, value: m.value, offset: m.offset, headers: headersOf(m.headers) });
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
      await this.deleteGroup(groupId);
    }
    return out;
  }

  /** Deletes a consumer group whose members are gone (best effort: a group still in use, or a broker away, is left). */
  private async deleteGroup(groupId: string): Promise<void> {
    try {
      await (await this.adminClient()).deleteGroups([groupId]);
    } catch {
      // the group stays: harmless, it only takes room in the group coordinator
    }
  }

  async committedOffsets(groupId: string, topics: readonly string[]): Promise<Map<string, bigint>> {
    const out = new Map<string, bigint>();
    try {
      const admin = await this.adminClient();
      for (const t of await admin.fetchOffsets({ groupId, topics: [...topics] }))
        for (const p of t.partitions) if (BigInt(p.offset) >= 0n) out.set(topicPartition(t.topic, p.partition), BigInt(p.offset));
    } catch (err) {
      throw kafkaError(err, `cannot read the offsets of consumer group ${groupId}`);
    }
    return out;
  }

  /**
   * The default partitioner's choice for messages of `topic`, synchronous: the topic's partition
   * count is read once and cached a minute (one metadata request per topic, not per message).
   * Keyed messages are hashed by {@link keyedPartition} (kafkajs's murmur2 in 32-bit arithmetic,
   * the same partition); messages without a key go round-robin through kafkajs's partitioner.
   */
  private async partitionerOf(topic: string): Promise<(m: OutboundMessage) => number> {
    const now = Date.now();
    let known = this.partitionMetadata.get(topic);
    if (!known || now - known.at > PARTITION_COUNT_TTL_MS) {
      const admin = await this.adminClient();
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      const count = meta.topics[0]?.partitions.length ?? 0;
      if (count === 0) throw new KafkaError('KAFKA', `topic ${topic} has no partitions`, { retriable: true });
      const partitionMetadata = Array.from({ length: count }, (_, i) => ({
        partitionId: i,
        leader: 0,
        partitionErrorCode: 0,
        replicas: [0],
        isr: [0],
      }));
      this.partitionMetadata.set(topic, (known = { at: now, partitionMetadata }));
    }
    const { partitionMetadata } = known;
    const count = partitionMetadata.length;
    return (m) =>
      m.key === null || m.key === undefined
        ? this.partitioner({ topic, partitionMetadata, message: { key: m.key, value: m.value } })
        : keyedPartition(m.key, count);
  }

  async close(): Promise<void> {
    for (const c of [...this.closers]) await c().catch(() => undefined);
    const [plain, admin] = [this.plain, this.admin];
    this.plain = null;
    this.admin = null;
    await plain?.then((p) => p.disconnect()).catch(() => undefined);
    await admin?.then((a) => a.disconnect()).catch(() => undefined);
  }
}
