/** A message to write. */
export interface OutboundMessage {
  topic: string;
  /** An explicit partition (else the key's hash picks one). */
  partition?: number;
  key: string | null;
  value: string | null;
  headers?: Record<string, string>;
}

/** A message read back. */
export interface InboundMessage {
  key: Buffer | null;
  value: Buffer | null;
  offset: string;
  headers: Record<string, string>;
}

/** Where the messages of one send landed: per partition, the offset of the last of them. */
export interface WrittenOffset {
  topic: string;
  partition: number;
  /** `topic:partition`: the key of this partition in checkpoints' `written` and in committed offsets. */
  at: string;
  /** Offset of the last message of the send in this partition (decimal). */
  lastOffset: string;
}

/** `topic:partition`, the key of offset maps ({@link WrittenOffset}, committed offsets). */
export const topicPartition = (topic: string, partition: number): string => `${topic}:${partition}`;

/** An open producer transaction: everything sent in it becomes visible together, or never. */
export interface ProducerTransaction {
  /** Sends into the transaction; where each partition's last message went. */
  send(messages: readonly OutboundMessage[]): Promise<WrittenOffset[]>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * A transactional, idempotent producer. Connecting one with a transactional id fences every
 * earlier producer of the same id (its open transaction is aborted, its commits fail).
 */
export interface TransactionalProducer {
  begin(): Promise<ProducerTransaction>;
  disconnect(): Promise<void>;
}

/** A batch of one partition, in offset order. */
export interface InboundBatch {
  topic: string;
  partition: number;
  messages: InboundMessage[];
}

/** Options of a group consumer (read_committed always). */
export interface GroupConsumerOptions {
  groupId: string;
  topics: readonly (string | RegExp)[];
  fromBeginning?: boolean;
  /** Group session timeout (default 20 s; the assignment group of readers uses 6 s). */
  sessionTimeoutMs?: number;
  /** Partitions whose batches are handed out at once (default 1). */
  partitionsConcurrently?: number;
  /** Called when the group assigns partitions to this member (after every rebalance). */
  onAssignment?: (assignment: Record<string, number[]>) => void;
  /**
   * A group of this consumer alone that nothing resumes (a random id read from the start each
   * time): offsets are not committed and the group is deleted when the consumer stops, so such
   * groups do not pile up in the broker.
   */
  ephemeral?: boolean;
  /**
   * Told how consuming goes: `ok` after each fetch that succeeded; not ok when the consumer
   * failed (a fetch, a commit, or `eachBatch` threw) — `restarting` says whether it tries again.
   */
  onState?: (state: ConsumerState) => void;
}

/** How a {@link GroupConsumer} is doing (see {@link GroupConsumerOptions.onState}). */
export type ConsumerState = { ok: true } | { ok: false; error: unknown; restarting: boolean };

/** A consumer in a group: batches are handed to `eachBatch`; offsets are committed after it returns. */
export interface GroupConsumer {
  run(eachBatch: (batch: InboundBatch) => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

/** Topic settings for {@link EventLog.ensureTopics}. */
export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
  compacted?: boolean;
  /** `max.message.bytes` of a topic created now (an existing topic with less gets a warning, not a change). */
  maxMessageBytes?: number;
}

/**
 * The small slice of Kafka shardline depends on — kafkajs is behind it (see kafkajs-event-log.ts)
 * and has been unmaintained since 2023, so a swap (e.g. @platformatic/kafka) touches one file.
 */
export interface EventLog {
  ensureTopics(specs: readonly TopicSpec[]): Promise<void>;
  transactionalProducer(transactionalId: string): Promise<TransactionalProducer>;
  /** A plain idempotent producer (dead letters). */
  send(messages: readonly OutboundMessage[]): Promise<void>;
  consumer(options: GroupConsumerOptions): GroupConsumer;
  /**
   * Every committed message of a topic (or of some of its partitions) up to the last stable
   * offset now (read_committed), in order per partition. Exact only for partitions without
   * another producer's open transaction: give each writer partitions of its own. A topic that
   * does not exist holds no messages.
   */
  readToEnd(topic: string, partitions?: readonly number[]): Promise<InboundMessage[]>;
  /**
   * The offsets a consumer group has committed on these topics: `topicPartition(t, p)` → the
   * next offset it will read (partitions it never committed are absent).
   */
  committedOffsets(groupId: string, topics: readonly string[]): Promise<Map<string, bigint>>;
  close(): Promise<void>;
}
