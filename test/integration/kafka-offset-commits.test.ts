import { setImmediate as nextTurn } from 'node:timers/promises';
import { kafkajs } from '../../src/cdc/kafka/kafkajs-loader.js';
import { testConfig } from '../support/cluster.js';

// The sink runner applies every partition's batch of a fetch in one write, so kafkajs's batches
// of a fetch finish together and each commits the resolved offsets. Against the real broker: the
// shardline copy of kafkajs sends one commit and one trailing commit for them, not one each, and
// the group's committed offsets are the ends of every partition.

const brokers = testConfig().kafka.brokers;
const topic = `shardline-test-commits-${process.pid}-${Date.now()}`;
const groupId = `${topic}-g`;
const PARTITIONS = 12;
const MESSAGES = 600;

describe('offset commits of batches applied together', () => {
  const kafka = new kafkajs.Kafka({ brokers, clientId: topic, logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();

  beforeAll(async () => {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: Array.from({ length: MESSAGES }, (_, i) => ({ partition: i % PARTITIONS, key: String(i), value: `v${i}` })),
    });
    await producer.disconnect();
  }, 60_000);

  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }, 60_000);

  it(`${PARTITIONS} partitions' batches applied in one turn: at most two OffsetCommit requests per group of batches, every offset committed`, async () => {
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
    let commits = 0;
    let groups = 0;
    consumer.on(consumer.events.REQUEST, (e) => {
      if (e.payload.apiName === 'OffsetCommit') commits++;
    });
    let seen = 0;
    let turn: Promise<void> | null = null;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: 64,
        eachBatch: async ({ batch }) => {
          seen += batch.messages.length;
          if (turn === null) {
            groups++;
            turn = nextTurn().then(() => {
              turn = null;
            });
          }
          await turn; // every batch of the fetch is "written" together, as the sink runner does
        },
      });
      const deadline = Date.now() + 30_000;
      while (seen < MESSAGES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 500)); // the trailing commit
    } finally {
      await consumer.disconnect();
    }
    expect(seen).toBe(MESSAGES);
    expect(commits).toBeGreaterThan(0);
    expect(commits).toBeLessThanOrEqual(2 * groups); // unpatched kafkajs: one per partition's batch (12 here)
    expect(commits).toBeLessThan(PARTITIONS);
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.high]));
    for (const p of committed[0]!.partitions) expect(p.offset).toBe(ends.get(p.partition));
  }, 60_000);
});
