import type { EventLog, OutboundMessage } from '../kafka/event-log.js';
import type { Checkpoint } from './checkpoint.js';

/**
 * Checkpoints in a compacted Kafka topic, key = instance name. They are written inside the same
 * Kafka transaction as the change events they follow, so a checkpoint is visible exactly when its
 * events are; read back with read_committed after the instance's producer has fenced any older
 * one, so no transaction of a dead worker can still land behind it.
 */
export class CheckpointStore {
  constructor(
    private readonly log: EventLog,
    readonly topic: string,
  ) {}

  /** The last committed checkpoint of every instance. */
  async loadAll(): Promise<Map<string, Checkpoint>> {
    const out = new Map<string, Checkpoint>();
    for (const m of await this.log.readToEnd(this.topic)) {
      const key = m.key?.toString('utf8');
      if (!key) continue;
      if (m.value === null) out.delete(key);
      else out.set(key, JSON.parse(m.value.toString('utf8')) as Checkpoint);
    }
    return out;
  }

  /** The last committed checkpoint of one instance, or null. */
  async load(instance: string): Promise<Checkpoint | null> {
    return (await this.loadAll()).get(instance) ?? null;
  }

  /** The message that records `checkpoint` (send it in the transaction of its events). */
  message(checkpoint: Checkpoint): OutboundMessage {
    return { topic: this.topic, key: checkpoint.instance, value: JSON.stringify(checkpoint) };
  }
}
