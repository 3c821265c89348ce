import { mkdtempSync, openSync, readdirSync, readFileSync, readSync, fstatSync, writeSync, closeSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageRoot } from '../../src/config/index.js';
import type { ConsumerState } from '../../src/cdc/kafka/event-log.js';
import { KafkajsEventLog } from '../../src/cdc/kafka/kafkajs-event-log.js';
import { kafkajs } from '../../src/cdc/kafka/kafkajs-loader.js';
import { createLogger } from '../../src/log/logger.js';
import { testConfig } from '../support/cluster.js';

// A record batch corrupted on the broker's disk (one byte of a value flipped after the broker
// wrote it) must never reach a consumer as data: kafkajs alone decodes it and hands out the
// altered value. The CRC32C check fails the fetch, the failure is logged, nothing is delivered.

const brokers = testConfig().kafka.brokers;
const topic = `shardline-test-crc-${process.pid}-${Date.now()}`;
const stateDir = process.env['SHARDLINE_STATE_DIR'] || path.join(packageRoot, '.shardline');
const logDir = mkdtempSync(path.join(os.tmpdir(), 'shardline-crc-'));
const logFile = path.join(logDir, 'kafka.log');

/** The partition's log segment on the local (native) broker's disk. */
function segmentFile(): string {
  const props = readFileSync(path.join(stateDir, 'data/kafka/server.properties'), 'utf8');
  const dir = path.join(/^log\.dirs=(.*)$/m.exec(props)![1]!.trim(), `${topic}-0`);
  return path.join(
    dir,
    readdirSync(dir).find((f) => f.endsWith('.log'))!,
  );
}

/** Overwrites the first occurrence of `text` in the segment with `replacement` (same length), as a bad disk would. */
function corrupt(text: string, replacement: string): void {
  const fd = openSync(segmentFile(), 'r+');
  try {
    const buf = Buffer.alloc(fstatSync(fd).size);
    readSync(fd, buf, 0, buf.length, 0);
    const at = buf.indexOf(text);
    expect(at).toBeGreaterThan(0);
    writeSync(fd, Buffer.from(replacement), 0, replacement.length, at);
  } finally {
    closeSync(fd);
  }
}

describe('a record batch corrupted on the broker', () => {
  const eventLog = new KafkajsEventLog({ brokers, clientId: topic, logger: createLogger({ level: 'warn', file: logFile }) });

  afterAll(async () => {
    await eventLog.close();
    const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.deleteGroups([`${topic}-g`]).catch(() => undefined);
    await admin.disconnect();
    rmSync(logDir, { recursive: true, force: true });
  }, 60_000);

  it('is never handed out: the fetch fails its CRC32C check, is retried and logged', async () => {
    await eventLog.ensureTopics([{ topic, partitions: 1, replicationFactor: 1 }]);
    const producer = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).producer();
    await producer.connect();
    const send = (value: string) => producer.send({ topic, acks: -1, messages: [{ key: 'k', value }] });
    const delivered: string[] = [];
    const states: ConsumerState[] = [];
    const consume = () => {
      const consumer = eventLog.consumer({ groupId: `${topic}-g`, topics: [topic], fromBeginning: true, onState: (s) => states.push(s) });
      void consumer.run(async (batch) => {
        for (const m of batch.messages) delivered.push(m.value!.toString());
      });
      return consumer;
    };
    try {
      await send('{"balance":"100.00","n":1}');
      await send('{"balance":"200.00","n":2}');
      const first = consume();
      for (let i = 0; i < 300 && delivered.length < 2; i++) await sleep(100);
      await first.stop();
      expect(delivered).toEqual(['{"balance":"100.00","n":1}', '{"balance":"200.00","n":2}']);

      // while no consumer runs: two more changes, the first of them altered on the broker's disk
      await send('{"balance":"300.00","n":3}');
      await send('{"balance":"400.00","n":4}');
      corrupt('"300.00"', '"900.00"');
      expect(states.some((st) => st.ok)).toBe(true); // the first consumer's fetches
      expect(states.some((st) => !st.ok)).toBe(false);
      states.length = 0;
      const second = consume();
      await sleep(8000);
      await second.stop();
      expect(delivered).toHaveLength(2);
      // the failing fetch is reported to the consumer's owner (the sink runner: /healthz), retried
      const failures = states.filter((st): st is Extract<ConsumerState, { ok: false }> => !st.ok);
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.every((f) => f.restarting)).toBe(true);
      expect(String((failures[0]!.error as Error).message)).toMatch(/CRC32C/);
      expect(states.filter((st) => st.ok)).toHaveLength(0);
      expect(readFileSync(logFile, 'utf8')).toMatch(/record batch at offset 2 failed its CRC32C check \(stored \d+, computed \d+\)/);
    } finally {
      await producer.disconnect();
    }
  }, 120_000);
});
