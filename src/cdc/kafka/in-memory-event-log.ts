import { KafkaError } from '../../errors/index.js';
import type {
  EventLog,
  GroupConsumer,
  GroupConsumerOptions,
  InboundBatch,
  InboundMessage,
  OutboundMessage,
  ProducerTransaction,
  TopicSpec,
  TransactionalProducer,
  WrittenOffset,
} from './event-log.js';
import { topicPartition } from './event-log.js';

/** Options of an {@link InMemoryEventLog}. */
export interface InMemoryEventLogOptions {
  /** Partitions of a topic created by its first send (Kafka's auto-create; default 1). */
  defaultPartitions?: number;
  /** Most messages handed to a consumer's `eachBatch` at once (default 500). */
  maxBatchMessages?: number;
  /** Wait before a consumer hands out a batch again after `eachBatch` threw (default 50 ms). */
  consumerRetryMs?: number;
}

/** The operations a test can make fail once with {@link InMemoryEventLog.failNext}. */
export type FaultPoint = 'begin' | 'send' | 'commit';

type TxnState = 'open' | 'committed' | 'aborted';

interface Txn {
  state: TxnState;
}

interface Entry {
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
  /** Null for a plain (non-transactional) message: visible at once. */
  txn: Txn | null;
}

interface Member {
  options: GroupConsumerOptions;
  assignment: Map<string, number[]>;
}

interface Group {
  offsets: Map<string, number>;
  members: Set<Member>;
}

const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** FNV-1a: a stable hash of the key, so one key always lands in one partition. */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * An {@link EventLog} in memory that keeps Kafka's contract, for tests that drive the CDC
 * producer and its consumers without a broker: messages of a transaction are appended as they
 * are sent (they take offsets) and become visible only when it commits; an aborted
 * transaction's messages are never visible; a read_committed reader stops at the first open
 * transaction of a partition (the last stable offset). Opening a transactional producer fences
 * every earlier one of the same id: its open transaction is aborted and its later calls fail
 * with `KAFKA_FENCED` (not retriable), as a zombie's do. Consumer groups hand out batches per
 * partition and commit the offset after `eachBatch` returns; members of a group share its
 * partitions. {@link failNext} makes one operation fail with a retriable `KAFKA` error.
 */
export class InMemoryEventLog implements EventLog {
  private readonly topics = new Map<string, Entry[][]>();
  private readonly epochs = new Map<string, number>();
  private readonly openTxns = new Map<string, Txn>();
  private readonly groups = new Map<string, Group>();
  private readonly faults = new Map<FaultPoint, { after: boolean; error: Error }>();
  private readonly stops = new Set<() => Promise<void>>();
  private waiters: (() => void)[] = [];
  private roundRobin = 0;
  private closed = false;

  constructor(private readonly options: InMemoryEventLogOptions = {}) {}

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    this.check();
    for (const s of specs) this.topicOf(s.topic, s.partitions);
  }

  async transactionalProducer(transactionalId: string): Promise<TransactionalProducer> {
    this.check();
    const epoch = (this.epochs.get(transactionalId) ?? 0) + 1;
    this.epochs.set(transactionalId, epoch);
    const zombie = this.openTxns.get(transactionalId);
    if (zombie) this.finish(transactionalId, zombie, 'aborted');
    let disconnected = false;
    const usable = (what: string) => {
      this.check();
      if (this.epochs.get(transactionalId) !== epoch)
        throw new KafkaError('KAFKA_FENCED', `${what}: the producer ${transactionalId} was fenced by a newer one (epoch ${epoch})`, {
          retriable: false,
        });
      if (disconnected) throw new KafkaError('KAFKA', `${what}: the producer ${transactionalId} is disconnected`, { retriable: true });
    };
    return {
      begin: async (): Promise<ProducerTransaction> => {
        usable('cannot begin a Kafka transaction');
        this.fault('begin', false);
        if (this.openTxns.has(transactionalId))
          throw new KafkaError('KAFKA', `cannot begin a Kafka transaction: ${transactionalId} already has one open`, { retriable: false });
        const txn: Txn = { state: 'open' };
        this.openTxns.set(transactionalId, txn);
        const active = (what: string) => {
          usable(what);
          if (txn.state !== 'open') throw new KafkaError('KAFKA', `${what}: the transaction is ${txn.state}`, { retriable: false });
        };
        return {
          send: async (messages) => {
            active('cannot send in the Kafka transaction');
            this.fault('send', false);
            const last = new Map<string, WrittenOffset>();
            for (const m of messages) {
              const w = this.append(m, txn);
              last.set(w.at, w);
            }
            this.fault('send', true);
            return [...last.values()];
          },
          commit: async () => {
            active('cannot commit the Kafka transaction');
            this.fault('commit', false);
            this.finish(transactionalId, txn, 'committed');
            this.fault('commit', true);
          },
          abort: async () => {
            if (txn.state !== 'open') return;
            usable('cannot abort the Kafka transaction');
            this.finish(transactionalId, txn, 'aborted');
          },
        };
      },
      disconnect: async () => {
        disconnected = true;
      },
    };
  }

  async send(messages: readonly OutboundMessage[]): Promise<void> {
    this.check();
    for (const m of messages) this.append(m, null);
    this.notify();
  }

  consumer(options: GroupConsumerOptions): GroupConsumer {
    const member: Member = { options, assignment: new Map() };
    let running = false;
    let loop: Promise<void> | null = null;
    const stop = async () => {
      this.stops.delete(stop);
      if (!running) return;
      running = false;
      const group = this.groupOf(options.groupId);
      group.members.delete(member);
      if (options.ephemeral && group.members.size === 0) this.groups.delete(options.groupId);
      else this.rebalance(options.groupId);
      this.notify();
      await loop;
    };
    return {
      run: async (eachBatch) => {
        this.check();
        if (running) throw new KafkaError('KAFKA', `consumer of ${options.groupId} is already running`, { retriable: false });
        running = true;
        this.stops.add(stop);
        const group = this.groupOf(options.groupId);
        for (const [topic, partitions] of this.subscribed(options)) {
          partitions.forEach((_, p) => {
            const at = partitionKey(topic, p);
            if (!group.offsets.has(at) && options.fromBeginning === false) group.offsets.set(at, partitions[p]!.length);
          });
        }
        group.members.add(member);
        this.rebalance(options.groupId);
        loop = this.consume(member, eachBatch, () => running);
      },
      stop,
    };
  }

  async readToEnd(topic: string, partitions?: readonly number[]): Promise<InboundMessage[]> {
    this.check();
    const out: InboundMessage[] = [];
    (this.topics.get(topic) ?? []).forEach((entries, p) => {
      if (partitions && !partitions.includes(p)) return;
      out.push(...this.visible(entries, 0, entries.length).messages);
    });
    return out;
  }

  async committedOffsets(groupId: string, topics: readonly string[]): Promise<Map<string, bigint>> {
    this.check();
    const out = new Map<string, bigint>();
    const group = this.groups.get(groupId);
    if (!group) return out;
    for (const topic of topics)
      (this.topics.get(topic) ?? []).forEach((_, p) => {
        const at = group.offsets.get(partitionKey(topic, p));
        if (at !== undefined) out.set(topicPartition(topic, p), BigInt(at));
      });
    return out;
  }

  async close(): Promise<void> {
    for (const stop of [...this.stops]) await stop();
    this.closed = true;
    this.notify();
  }

  /**
   * Makes the next `op` of any transaction fail with a retriable `KAFKA` error (or `error`):
   * before it takes effect, or — `after: true` — after (a commit that happened but whose
   * answer was lost).
   */
  failNext(op: FaultPoint, fault: { after?: boolean; error?: Error } = {}): void {
    this.faults.set(op, {
      after: fault.after ?? false,
      error: fault.error ?? new KafkaError('KAFKA', `injected failure of ${op}`, { retriable: true }),
    });
  }

  /** Every message of a topic as a read_uncommitted reader sees it (open and aborted transactions too). */
  readUncommitted(topic: string): InboundMessage[] {
    return (this.topics.get(topic) ?? []).flatMap((entries) => entries.map((e, offset) => inbound(e, offset)));
  }

  /** Transactional ids with a transaction open now. */
  openTransactions(): string[] {
    return [...this.openTxns.keys()];
  }

  private check(): void {
    if (this.closed) throw new KafkaError('KAFKA', 'the event log is closed', { retriable: false });
  }

  private fault(op: FaultPoint, after: boolean): void {
    const f = this.faults.get(op);
    if (!f || f.after !== after) return;
    this.faults.delete(op);
    throw f.error;
  }

  private finish(transactionalId: string, txn: Txn, state: 'committed' | 'aborted'): void {
    txn.state = state;
    if (this.openTxns.get(transactionalId) === txn) this.openTxns.delete(transactionalId);
    this.notify();
  }

  private topicOf(topic: string, partitions: number): Entry[][] {
    let t = this.topics.get(topic);
    if (!t) {
      t = [];
      this.topics.set(topic, t);
    }
    if (t.length < partitions) {
      while (t.length < partitions) t.push([]);
      for (const groupId of this.groups.keys()) this.rebalance(groupId);
    }
    return t;
  }

  private append(m: OutboundMessage, txn: Txn | null): WrittenOffset {
    const t = this.topics.get(m.topic) ?? this.topicOf(m.topic, this.options.defaultPartitions ?? 1);
    const partition = m.partition ?? (m.key === null ? this.roundRobin++ % t.length : hashOf(m.key) % t.length);
    const entries = t[partition];
    if (!entries) throw new KafkaError('KAFKA', `cannot send to ${m.topic}: it has no partition ${partition}`, { retriable: false });
    entries.push({ key: m.key, value: m.value, headers: { ...(m.headers ?? {}) }, txn });
    return { topic: m.topic, partition, at: topicPartition(m.topic, partition), lastOffset: String(entries.length - 1) };
  }

  /** The committed messages of `entries[from..to)` up to the last stable offset, and where reading stopped. */
  private visible(entries: readonly Entry[], from: number, to: number): { messages: InboundMessage[]; next: number } {
    const messages: InboundMessage[] = [];
    let at = from;
    for (; at < to; at++) {
      const e = entries[at]!;
      if (e.txn?.state === 'open') break;
      if (e.txn?.state !== 'aborted') messages.push(inbound(e, at));
    }
    return { messages, next: at };
  }

  private groupOf(groupId: string): Group {
    let g = this.groups.get(groupId);
    if (!g) {
      g = { offsets: new Map(), members: new Set() };
      this.groups.set(groupId, g);
    }
    return g;
  }

  private subscribed(options: GroupConsumerOptions): [string, Entry[][]][] {
    return [...this.topics]
      .filter(([name]) => options.topics.some((t) => (typeof t === 'string' ? t === name : t.test(name))))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Deals the partitions of each topic to the group's members subscribed to it, in turn, and tells them. */
  private rebalance(groupId: string): void {
    const members = [...this.groupOf(groupId).members];
    const topicsOf = new Map(members.map((m) => [m, this.subscribed(m.options).map(([t]) => t)]));
    for (const m of members) m.assignment = new Map();
    for (const topic of new Set([...topicsOf.values()].flat())) {
      const takers = members.filter((m) => topicsOf.get(m)!.includes(topic));
      const count = this.topics.get(topic)?.length ?? 0;
      for (let p = 0; p < count; p++) {
        const m = takers[p % takers.length]!;
        m.assignment.set(topic, [...(m.assignment.get(topic) ?? []), p]);
      }
    }
    for (const m of members) m.options.onAssignment?.(Object.fromEntries(m.assignment));
    this.notify();
  }

  private async consume(member: Member, eachBatch: (batch: InboundBatch) => Promise<void>, running: () => boolean): Promise<void> {
    const group = this.groupOf(member.options.groupId);
    const max = this.options.maxBatchMessages ?? 500;
    while (running()) {
      const batches: { batch: InboundBatch; next: number; at: string }[] = [];
      for (const [topic, partitions] of member.assignment) {
        for (const p of partitions) {
          const entries = this.topics.get(topic)?.[p] ?? [];
          const at = partitionKey(topic, p);
          const from = group.offsets.get(at) ?? 0;
          const { messages, next } = this.visible(entries, from, Math.min(entries.length, from + max));
          if (next > from && messages.length === 0) group.offsets.set(at, next);
          else if (messages.length) batches.push({ batch: { topic, partition: p, messages }, next, at });
        }
      }
      if (batches.length === 0) {
        await this.changed();
        continue;
      }
      const concurrently = Math.max(1, member.options.partitionsConcurrently ?? 1);
      let failed = false;
      for (let i = 0; i < batches.length && running(); i += concurrently) {
        await Promise.all(
          batches.slice(i, i + concurrently).map(async ({ batch, next, at }) => {
            try {
              await eachBatch(batch);
              if (member.assignment.get(batch.topic)?.includes(batch.partition)) group.offsets.set(at, next);
              member.options.onState?.({ ok: true });
            } catch (error) {
              failed = true;
              member.options.onState?.({ ok: false, error, restarting: true });
            }
          }),
        );
      }
      if (failed) await new Promise((resolve) => setTimeout(resolve, this.options.consumerRetryMs ?? 50));
    }
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

function inbound(e: Entry, offset: number): InboundMessage {
  return {
    key: e.key === null ? null : Buffer.from(e.key, 'utf8'),
    value: e.value === null ? null : Buffer.from(e.value, 'utf8'),
    offset: String(offset),
    headers: { ...e.headers },
  };
}
