import type { ChangeEvent } from '../events/change-event.js';
import { sourceVersion } from '../events/source-version.js';
import type { EventLog, GroupConsumer, InboundBatch } from '../kafka/event-log.js';
import type { CdcMetrics } from '../metrics/cdc-metrics.js';
import type { Logger } from '../../log/logger.js';
import type { DeadLetter, Sink, SinkRecord } from './sink-record.js';

/** Options of a {@link SinkRunner}. */
export interface SinkRunnerOptions {
  name: string;
  sink: Sink;
  log: EventLog;
  groupId: string;
  topics: readonly string[];
  deadLetterTopic: string;
  metrics: CdcMetrics;
  logger: Logger;
  /** Partitions handed to the sink at once (the sink must take concurrent writes). */
  partitionsConcurrently?: number;
}

/** A Kafka message of a change topic as a sink record (pure). Records without a key are dead letters. */
export function sinkRecordOf(topic: string, partition: number, m: InboundBatch['messages'][number]): SinkRecord | DeadLetter | null {
  if (!m.value) return null;
  const event = JSON.parse(m.value.toString('utf8')) as ChangeEvent;
  const record: SinkRecord = {
    table: event.source.logical_table ?? event.source.table,
    id: m.key?.toString('utf8') ?? '',
    previousId: m.headers['previous_key'] ?? null,
    version: sourceVersion(event.source),
    event,
    origin: { topic, partition, offset: m.offset },
  };
  if (m.key === null) return { record, reason: `table ${record.table} has no primary key: its rows cannot be addressed in a sink` };
  return record;
}

/**
 * Feeds one sink from its own consumer group (read_committed: only committed source
 * transactions). Offsets are committed after the sink has applied a batch, so a crash replays
 * at most the last batch — harmless, as sinks are idempotent by source version. Dead letters go
 * to the dead-letter topic with the sink and the reason, and are counted.
 */
export class SinkRunner {
  private consumer: GroupConsumer | null = null;

  constructor(private readonly o: SinkRunnerOptions) {}

  async start(): Promise<void> {
    const { o } = this;
    this.consumer = o.log.consumer({ groupId: o.groupId, topics: o.topics, fromBeginning: true, partitionsConcurrently: o.partitionsConcurrently ?? 1 });
    await this.consumer.run(async (batch) => {
      const records: SinkRecord[] = [];
      const dead: DeadLetter[] = [];
      for (const m of batch.messages) {
        const r = sinkRecordOf(batch.topic, batch.partition, m);
        if (r === null) continue;
        if ('reason' in r) dead.push(r);
        else records.push(r);
      }
      const started = process.hrtime.bigint();
      if (records.length) dead.push(...(await o.sink.write(records)));
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const now = Date.now();
      const byTable = new Map<string, number>();
      for (const r of records) {
        byTable.set(r.table, (byTable.get(r.table) ?? 0) + 1);
        o.metrics.sinkLatency(o.name, Math.max(0, now - r.event.source.ts_us / 1000) / 1000);
      }
      for (const [table, n] of byTable) o.metrics.sinkApplied(o.name, table, n, seconds);
      if (dead.length) {
        await o.log.send(
          dead.map((d) => ({
            topic: o.deadLetterTopic,
            key: d.record.id || null,
            value: JSON.stringify({ sink: o.name, reason: d.reason, table: d.record.table, id: d.record.id, version: d.record.version.toString(), origin: d.record.origin, event: d.record.event }),
            headers: { sink: o.name, reason: d.reason.slice(0, 1000) },
          })),
        );
        for (const d of dead) {
          o.metrics.deadLetter(o.name, d.record.table);
          o.logger.warn({ sink: o.name, table: d.record.table, id: d.record.id, origin: d.record.origin, reason: d.reason }, 'record sent to the dead-letter topic');
        }
      }
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    await this.o.sink.close();
  }
}
