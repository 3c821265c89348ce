import { cdcTransactionChannel, type CdcKafkaTraceContext } from './channels.js';

/**
 * The producer side of `shardline:cdc:transaction` for one instance: a source transaction's trace
 * starts when its commit is read and ends when the Kafka transaction holding it commits (or fails).
 * Every method returns at once when nobody subscribes.
 */
export class KafkaCommitTraces {
  private rows = 0;
  private readonly topics = new Set<string>();
  private pending: CdcKafkaTraceContext[] = [];

  constructor(private readonly instance: string) {}

  /** A source transaction begins. */
  begin(): void {
    this.rows = 0;
    this.topics.clear();
  }

  /** Change messages of the open source transaction. */
  messages(messages: readonly { topic: string }[]): void {
    if (!cdcTransactionChannel.hasSubscribers) return;
    this.rows += messages.length;
    for (const m of messages) this.topics.add(m.topic);
  }

  /** The source transaction committed at `at`: its trace starts. */
  sourceCommitted(gtid: string | null, at: { file: string; pos: number }): void {
    if (!cdcTransactionChannel.hasSubscribers) return;
    const ctx: CdcKafkaTraceContext = {
      stage: 'kafka',
      instance: this.instance,
      gtid,
      file: at.file,
      pos: at.pos,
      rows: this.rows,
      topics: [...this.topics],
    };
    cdcTransactionChannel.start.publish(ctx);
    cdcTransactionChannel.end.publish(ctx);
    this.pending.push(ctx);
  }

  /** The Kafka transaction committed: the traces of the source transactions it held end. */
  kafkaCommitted(): void {
    this.settle(undefined);
  }

  /** The Kafka transaction was given up (it is read again): the pending traces end with `error`. */
  kafkaFailed(error: unknown): void {
    this.settle(error ?? new Error('the Kafka transaction failed'));
  }

  private settle(error: unknown): void {
    const done = this.pending;
    if (!done.length) return;
    this.pending = [];
    for (const ctx of done) {
      if (error !== undefined) {
        ctx.error = error;
        cdcTransactionChannel.error.publish(ctx);
      }
      cdcTransactionChannel.asyncStart.publish(ctx);
      cdcTransactionChannel.asyncEnd.publish(ctx);
    }
  }
}
