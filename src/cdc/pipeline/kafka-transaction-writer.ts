import { KafkaError } from '../../errors/index.js';
import type { CheckpointStore } from '../checkpoint/checkpoint-store.js';
import type { ProducerTransaction, TransactionalProducer, WrittenOffset } from '../kafka/event-log.js';
import type { BatchAction } from './kafka-batcher.js';

/**
 * Carries out a {@link KafkaBatcher}'s actions on a transactional producer: opens the Kafka
 * transaction, sends into it, and commits it with the checkpoint message last. The checkpoint
 * carries where this reader's messages landed (`written`, merged over its commits), which is what
 * sinks' progress is measured against.
 */
export class KafkaTransactionWriter {
  private txn: ProducerTransaction | null = null;
  private written: Record<string, string>;
  private sent = new Map<string, WrittenOffset>();

  constructor(
    private readonly producer: TransactionalProducer,
    private readonly checkpoints: Pick<CheckpointStore, 'message'>,
    /** Called after each commit with its duration and the messages it made visible. */
    private readonly committed: (seconds: number, events: number) => void,
    /** The `written` offsets of the checkpoint the reader resumed from. */
    written: Record<string, string> = {},
  ) {
    this.written = { ...written };
  }

  /** Performs `actions` in order. */
  async apply(actions: readonly BatchAction[]): Promise<void> {
    for (const a of actions) {
      switch (a.type) {
        case 'begin':
          this.txn = await this.producer.begin();
          this.sent.clear();
          break;
        case 'send':
          this.note(await this.open().send(a.messages));
          break;
        case 'commit': {
          const t = this.open();
          if (a.messages.length) this.note(await t.send(a.messages));
          const written = mergeWritten(this.written, this.sent.values());
          if (a.checkpoint) await t.send([this.checkpoints.message(Object.assign({}, a.checkpoint, { written }))]);
          this.txn = null;
          const started = process.hrtime.bigint();
          await t.commit();
          this.written = written;
          this.committed(Number(process.hrtime.bigint() - started) / 1e9, a.events);
          break;
        }
      }
    }
  }

  /** The `written` offsets of the last commit (what the next checkpoint builds on). */
  get writtenOffsets(): Readonly<Record<string, string>> {
    return this.written;
  }

  /** Aborts the open Kafka transaction, if any; a failure to abort is ignored (a new producer fences it anyway). */
  async abort(): Promise<void> {
    const t = this.txn;
    this.txn = null;
    await t?.abort().catch(() => undefined);
  }

  private note(offsets: readonly WrittenOffset[]): void {
    for (const o of offsets) this.sent.set(o.at, o);
  }

  private open(): ProducerTransaction {
    if (!this.txn) throw new KafkaError('KAFKA', 'no Kafka transaction is open to send into', { retriable: false });
    return this.txn;
  }
}

/** `written` with later offsets merged in (the larger offset of each partition). */
export function mergeWritten(written: Readonly<Record<string, string>>, offsets: Iterable<WrittenOffset>): Record<string, string> {
  const out: Record<string, string> = { ...written };
  for (const o of offsets) {
    const had = out[o.at];
    if (had === undefined || BigInt(o.lastOffset) > BigInt(had)) out[o.at] = o.lastOffset;
  }
  return out;
}

/** Two `written` maps merged (the larger offset of each partition). */
export function mergeWrittenMaps(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  const out: Record<string, string> = { ...a };
  for (const [key, offset] of Object.entries(b ?? {})) {
    const had = out[key];
    if (had === undefined || BigInt(offset) > BigInt(had)) out[key] = offset;
  }
  return out;
}
