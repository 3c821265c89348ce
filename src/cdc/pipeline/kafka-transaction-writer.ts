import { KafkaError } from '../../errors/index.js';
import type { CheckpointStore } from '../checkpoint/checkpoint-store.js';
import type { ProducerTransaction, TransactionalProducer } from '../kafka/event-log.js';
import type { BatchAction } from './kafka-batcher.js';

/**
 * Carries out a {@link KafkaBatcher}'s actions on a transactional producer: opens the Kafka
 * transaction, sends into it, and commits it with the checkpoint message last.
 */
export class KafkaTransactionWriter {
  private txn: ProducerTransaction | null = null;

  constructor(
    private readonly producer: TransactionalProducer,
    private readonly checkpoints: Pick<CheckpointStore, 'message'>,
    /** Called after each commit with its duration and the messages it made visible. */
    private readonly committed: (seconds: number, events: number) => void,
  ) {}

  /** Performs `actions` in order. */
  async apply(actions: readonly BatchAction[]): Promise<void> {
    for (const a of actions) {
      switch (a.type) {
        case 'begin':
          this.txn = await this.producer.begin();
          break;
        case 'send':
          await this.open().send(a.messages);
          break;
        case 'commit': {
          const t = this.open();
          if (a.messages.length) await t.send(a.messages);
          if (a.checkpoint) await t.send([this.checkpoints.message(a.checkpoint)]);
          this.txn = null;
          const started = process.hrtime.bigint();
          await t.commit();
          this.committed(Number(process.hrtime.bigint() - started) / 1e9, a.events);
          break;
        }
      }
    }
  }

  /** Aborts the open Kafka transaction, if any; a failure to abort is ignored (a new producer fences it anyway). */
  async abort(): Promise<void> {
    const t = this.txn;
    this.txn = null;
    await t?.abort().catch(() => undefined);
  }

  private open(): ProducerTransaction {
    if (!this.txn) throw new KafkaError('KAFKA', 'no Kafka transaction is open to send into', { retriable: false });
    return this.txn;
  }
}
