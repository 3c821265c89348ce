import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { KafkajsEventLog } from '../../src/cdc/kafka/kafkajs-event-log.js';
import { kafkajs } from '../../src/cdc/kafka/kafkajs-loader.js';
import { createCdcMetrics } from '../../src/cdc/metrics/cdc-metrics.js';
import type { DeadLetter, Sink, SinkRecord } from '../../src/cdc/sinks/sink-record.js';
import { MALFORMED_BYTES_KEPT, MALFORMED_TABLE_LABEL, SinkRunner } from '../../src/cdc/sinks/sink-runner.js';
import { createLogger } from '../../src/log/logger.js';
import { testConfig } from '../support/cluster.js';
import { metricValue, readTopic } from '../support/cdc-faults.js';
import { unversionedSource } from '../support/change-events.js';

// Anything can be written to a change topic. A message that is not a change event must become a
// dead letter with its bytes, and the sink's group must go on to the changes after it (a throw
// inside the consumer's batch would stop the group for good while the worker looks healthy).

const brokers = testConfig().kafka.brokers;
const name = `shardline-test-malformed-${process.pid}-${Date.now()}`;
const topic = `${name}.users`;
const deadLetterTopic = `${name}._dead_letters`;

const source = { ...unversionedSource, row: 0, ts_us: Date.now() * 1000 };
const change = (id: string, version: string) =>
  JSON.stringify({ op: 'c', before: null, after: { uid: id, name: `n${id}` }, source: { ...source, version }, ts_ms: Date.now() });

/** A sink that keeps what it was given (the runner is what this test is about). */
class RecordingSink implements Sink {
  readonly ids: string[] = [];
  write(records: readonly SinkRecord[]): Promise<DeadLetter[]> {
    this.ids.push(...records.map((r) => r.id));
    return Promise.resolve([]);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const notUtf8 = Buffer.from([0xff, 0xfe, 0x00, 0x7b]);
const malformed: { key: string; value: string | Buffer; reason: RegExp }[] = [
  { key: 'junk-text', value: 'this is not json', reason: /^the value is not JSON$/ },
  { key: 'junk-bytes', value: notUtf8, reason: /^the value is not JSON$/ },
  { key: 'junk-array', value: '[1,2,3]', reason: /not a JSON object/ },
  // larger than the part kept (a dead letter of the whole would pass the broker's 1 MiB limit once in base64)
  { key: 'junk-large', value: Buffer.alloc(700 * 1024, 0x41), reason: /^the value is not JSON$/ },
  { key: 'junk-shape', value: JSON.stringify({ op: 'c', before: null, after: {}, source: { ...source, ts_us: 'soon' } }), reason: /ts_us/ },
];

describe('a change topic holding messages that are not change events', () => {
  const eventLog = new KafkajsEventLog({ brokers, clientId: name });
  const registry = new Registry();
  const sink = new RecordingSink();
  let runner: SinkRunner | null = null;

  afterAll(async () => {
    await runner?.stop();
    await eventLog.close();
    const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, deadLetterTopic] }).catch(() => undefined);
    await admin.deleteGroups([`${name}-sink`]).catch(() => undefined);
    await admin.disconnect();
  }, 60_000);

  it('dead-letters them with their bytes and applies the changes around them', async () => {
    await eventLog.ensureTopics([
      { topic, partitions: 1, replicationFactor: 1 },
      { topic: deadLetterTopic, partitions: 1, replicationFactor: 1 },
    ]);
    const producer = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).producer();
    await producer.connect();
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: [
          { key: '1', value: change('1', '10') },
          ...malformed.map((m) => ({ key: m.key, value: m.value })),
          { key: '2', value: change('2', '-5') },
          { key: '3', value: change('3', '30') },
        ],
      });
    } finally {
      await producer.disconnect();
    }

    runner = new SinkRunner({
      name: 'test',
      sink,
      log: eventLog,
      groupId: `${name}-sink`,
      topics: [topic],
      deadLetterTopic,
      metrics: createCdcMetrics(registry),
      logger: createLogger({ level: 'error' }),
    });
    await runner.start();
    for (let i = 0; i < 300 && !sink.ids.includes('3'); i++) await sleep(100);
    expect(sink.ids).toEqual(['1', '3']);

    const letters = await readTopic(brokers, deadLetterTopic, (ms) => ms.length >= malformed.length + 1, 60_000);
    expect(letters).toHaveLength(malformed.length + 1);
    const byKey = new Map(letters.map((l) => [l.key, JSON.parse(l.value!) as Record<string, unknown>]));
    for (const m of malformed) {
      const v = byKey.get(m.key)!;
      expect(v['sink']).toBe('test');
      expect(v['reason']).toMatch(m.reason);
      expect(v['table']).toBeNull();
      const bytes = Buffer.from(m.value);
      expect(v['value_bytes']).toBe(bytes.length);
      expect(v['value_truncated']).toBe(bytes.length > MALFORMED_BYTES_KEPT);
      expect(Buffer.from(v['value_base64'] as string, 'base64').equals(bytes.subarray(0, MALFORMED_BYTES_KEPT))).toBe(true);
      expect(Buffer.from(v['key_base64'] as string, 'base64').toString()).toBe(m.key);
      expect((v['origin'] as { topic: string }).topic).toBe(topic);
    }
    expect(byKey.get('2')?.['reason']).toMatch(/source.version/);

    const metrics = await registry.metrics();
    expect(metricValue(metrics, 'shardline_sink_dead_letters_total', { sink: 'test', table: MALFORMED_TABLE_LABEL })).toBe(
      malformed.length,
    );
    expect(metricValue(metrics, 'shardline_sink_dead_letters_total', { sink: 'test', table: 'users' })).toBe(1);
    expect(metricValue(metrics, 'shardline_sink_records_total', { sink: 'test', table: 'users' })).toBe(2);
  }, 120_000);
});
