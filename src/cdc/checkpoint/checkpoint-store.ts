import type { EventLog, OutboundMessage } from '../kafka/event-log.js';
import type { Checkpoint } from './checkpoint.js';

/**
 * Checkpoints in a compacted Kafka topic, key = instance name, one partition per instance. They
 * are written inside the same Kafka transaction as the change events they follow, so a checkpoint
 * is visible exactly when its events are; read back with read_committed after the instance's
 * producer has fenced any older one. The partition is the instance's own so that no other
 * producer's open transaction holds its last stable offset back: reading up to it then sees the
 * newest committed checkpoint (with a shared partition it could stop short and resend).
 */
export class CheckpointStore {
  constructor(
    private readonly log: EventLog,
    readonly topic: string,
    private readonly partitionOf: (instance: string) => number,
  ) {}

  /** The last committed checkpoint of each of these instances. */
  async loadAll(instances: readonly string[]): Promise<Map<string, Checkpoint>> {
    const out = new Map<string, Checkpoint>();
    const wanted = new Set(instances);
    for (const m of await this.log.readToEnd(this.topic, [...new Set(instances.map(this.partitionOf))])) {
      const key = m.key?.toString('utf8');
      if (!key || !wanted.has(key)) continue;
      if (m.value === null) out.delete(key);
      else out.set(key, JSON.parse(m.value.toString('utf8')) as Checkpoint);
    }
    return out;
  }

  /** The last committed checkpoint of one instance, or null. */
  async load(instance: string): Promise<Checkpoint | null> {
    return (await this.loadAll([instance])).get(instance) ?? null;
  }

  /** The message that records `checkpoint` (send it in the transaction of its events). */
  message(checkpoint: Checkpoint): OutboundMessage {
    return {
      topic: this.topic,
      partition: this.partitionOf(checkpoint.instance),
      key: checkpoint.instance,
      value: JSON.stringify(checkpoint),
    };
  }
}
