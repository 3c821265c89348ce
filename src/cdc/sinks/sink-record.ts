import type { ChangeEvent } from '../events/change-event.js';

/** One change as a sink receives it from Kafka. */
export interface SinkRecord {
  /** The logical table (or the table's own name when it is not sharded). */
  table: string;
  /** Document id / archive key: the logical primary key (see `documentId` in events/document-id.ts). */
  id: string;
  /** The primary key before the change when an update changed it (delete that one), else null. */
  previousId: string | null;
  /** Monotonic source version (see `sourceVersion`). */
  version: bigint;
  event: ChangeEvent;
  /** Where the record sits in Kafka (for dead letters and logs). */
  origin: { topic: string; partition: number; offset: string };
}

/** A record a sink refused for good (e.g. a mapping error), with the reason. */
export interface DeadLetter {
  record: SinkRecord;
  reason: string;
}

/** A destination of change events. */
export interface Sink {
  /**
   * Applies records in order, idempotently (versions guard against replays and reordering).
   * Retries transient failures (429, 5xx, lost connections) with back-off until it succeeds or
   * the sink is closed — it never skips a record; records refused for good come back as dead
   * letters.
   */
  write(records: readonly SinkRecord[]): Promise<DeadLetter[]>;
  /** Makes what was written visible to readers where that is a separate step (Elasticsearch's refresh). */
  refresh?(): Promise<void>;
  close(): Promise<void>;
}
