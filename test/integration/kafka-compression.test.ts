import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../src/config/index.js';
import type { KafkaCompression } from '../../src/cdc/kafka/compression.js';
import { KafkajsEventLog } from '../../src/cdc/kafka/kafkajs-event-log.js';
import { kafkajs } from '../../src/cdc/kafka/kafkajs-loader.js';
import { testConfig } from '../support/cluster.js';

// Change topics are LZ4-compressed by default: what shardline writes must be read back exactly by
// Kafka's own Java consumer (an independent LZ4 frame decoder) and by shardline's consumers, and
// the batches must really be compressed (the broker's log is smaller than the payload).

const brokers = testConfig().kafka.brokers;
const kafkaHome = execFileSync('bash', [path.join(packageRoot, 'scripts/install-kafka.sh')], { encoding: 'utf8' })
  .trim()
  .split('\n')
  .pop()!;
const javaRead = (topic: string): string[] =>
  execFileSync(
    'java',
    ['-cp', `${kafkaHome}/libs/*`, path.join(packageRoot, 'test/fixtures/kafka/CommittedReader.java'), brokers.join(','), topic],
    { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] },
  )
    .split('\n')
    .filter(Boolean)
    .sort();

const rows = Array.from({ length: 3000 }, (_, i) => ({
  key: JSON.stringify({ id: i }),
  value: JSON.stringify({ op: 'r', after: { id: i, name: `name ${i} ünïcödé ✓`, bio: 'x'.repeat(i % 700) }, before: null }),
  partition: i % 3,
}));

const stateDir = process.env['SHARDLINE_STATE_DIR'] || path.join(packageRoot, '.shardline');
/** Bytes of the topic's log segments on the broker's disk (the local cluster's native Kafka). */
const bytesOnDisk = (topic: string): number => {
  const props = readFileSync(path.join(stateDir, 'data/kafka/server.properties'), 'utf8');
  const dir = /^log\.dirs=(.*)$/m.exec(props)![1]!.trim();
  let n = 0;
  for (let p = 0; p < 3; p++)
    for (const f of readdirSync(path.join(dir, `${topic}-${p}`)).filter((x) => x.endsWith('.log')))
      n += statSync(path.join(dir, `${topic}-${p}`, f)).size;
  return n;
};

async function recordCount(topic: string): Promise<number> {
  const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, o) => n + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
}

describe.each<KafkaCompression>(['lz4', 'gzip', 'none'])('cdc.compression %s', (compression) => {
  const topic = `shardline-test-compression-${compression}-${process.pid}-${Date.now()}`;
  const log = new KafkajsEventLog({ brokers, clientId: 'shardline-test-compression', compression });
  afterAll(async () => {
    const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    await log.close();
  });

  it('a transactional batch is read back record for record by Kafka’s Java consumer and by shardline', async () => {
    await log.ensureTopics([{ topic, partitions: 3, replicationFactor: 1 }]);
    const producer = await log.transactionalProducer(`shardline-test-compression-${compression}-${process.pid}`);
    try {
      for (let i = 0; i < rows.length; i += 1000) {
        const txn = await producer.begin();
        await txn.send(rows.slice(i, i + 1000).map((r) => ({ topic, ...r })));
        await txn.commit();
      }
      const aborted = await producer.begin();
      await aborted.send([{ topic, key: 'aborted', value: 'never seen', partition: 0 }]);
      await aborted.abort();
    } finally {
      await producer.disconnect();
    }
    const expected = rows.map((r) => `${r.partition}\t${r.key}\t${r.value}`).sort();
    expect(javaRead(topic)).toEqual(expected);
    const ours: string[] = [];
    for (const p of [0, 1, 2])
      for (const m of await log.readToEnd(topic, [p])) ours.push(`${p}\t${m.key!.toString('utf8')}\t${m.value!.toString('utf8')}`);
    expect(ours.sort()).toEqual(expected);
    // 3 transactions' records + their commit markers (one per partition) + the aborted one and its marker
    expect(await recordCount(topic)).toBe(rows.length + 3 * 3 + 2);
    const payload = rows.reduce((n, r) => n + r.key.length + Buffer.byteLength(r.value), 0);
    if (compression === 'none') expect(bytesOnDisk(topic)).toBeGreaterThan(payload);
    else expect(bytesOnDisk(topic)).toBeLessThan(payload / 4);
  }, 180_000);
});
