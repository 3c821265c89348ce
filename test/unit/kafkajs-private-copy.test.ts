import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { KafkaError } from '../../src/errors/index.js';

// The host application's own kafkajs, loaded before shardline (as an app that uses kafkajs itself would).
const hostRequire = createRequire(import.meta.url);
const hostKafkajs = hostRequire('kafkajs') as { Kafka: unknown };
const hostFilterPath = hostRequire.resolve('kafkajs/src/consumer/filterAbortedMessages.js');
const hostFilter = hostRequire(hostFilterPath) as unknown;
const privateRoot = path.dirname(hostRequire.resolve('@shardline/kafkajs/package.json'));

describe("shardline's kafkajs copy", () => {
  it('is its own instance and leaves the host kafkajs, loaded first, as it was', async () => {
    const { kafkajs, filterAbortedMessages } = await import('../../src/cdc/kafka/kafkajs-loader.js');
    expect(kafkajs.Kafka).not.toBe(hostKafkajs.Kafka);
    expect(hostRequire(hostFilterPath)).toBe(hostFilter);
    expect(hostFilter).not.toBe(filterAbortedMessages);
  });

  it('fails closed with a typed error when the consumer no longer uses the replaced filter', async () => {
    const { loadKafkajs } = await import('../../src/cdc/kafka/kafkajs-loader.js');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-kafkajs-'));
    try {
      cpSync(privateRoot, dir, { recursive: true });
      const consumer = path.join(dir, 'src/consumer');
      writeFileSync(path.join(consumer, 'upstreamFilter.js'), readFileSync(path.join(consumer, 'filterAbortedMessages.js')));
      const batch = path.join(consumer, 'batch.js');
      const source = readFileSync(batch, 'utf8');
      expect(source).toContain("require('./filterAbortedMessages')");
      writeFileSync(batch, source.replace("require('./filterAbortedMessages')", "require('./upstreamFilter')"));
      expect(() => loadKafkajs(dir)).toThrow(KafkaError);
      expect(() => loadKafkajs(dir)).toThrow(/still hands out records of aborted transactions/);

      rmSync(path.join(consumer, 'batch.js'));
      let err: unknown;
      try {
        loadKafkajs(dir);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KafkaError);
      expect(err).toMatchObject({ code: 'KAFKA', retriable: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads the unchanged copy', async () => {
    const { loadKafkajs } = await import('../../src/cdc/kafka/kafkajs-loader.js');
    expect(typeof loadKafkajs(privateRoot).Kafka).toBe('function');
  });
});
