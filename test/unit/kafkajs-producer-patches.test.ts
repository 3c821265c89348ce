import { createRequire } from 'node:module';
import path from 'node:path';
import { linearPartitionGrouping, produceRequestWithoutSpreads } from '../../src/cdc/kafka/kafkajs-producer-patches.js';
import { privateCommonJs } from '../../src/cdc/kafka/private-commonjs.js';
import { prng } from '../support/prng.js';

// The oracle: kafkajs's own, unpatched module, loaded by Node's require.
const hostRequire = createRequire(import.meta.url);
const root = path.dirname(hostRequire.resolve('@shardline/kafkajs/package.json'));
const groupingFile = path.join(root, 'src/producer/groupMessagesPerPartition.js');

interface Message {
  key: string | null;
  value: string;
  partition?: number;
}
type Partitioner = (a: { topic: string; partitionMetadata: unknown[]; message: Message }) => number;
type Grouping = (a: {
  topic: string;
  partitionMetadata: unknown[];
  messages: Message[];
  partitioner: Partitioner;
}) => Record<string, Message[]>;

const original = hostRequire(groupingFile) as Grouping;
const patched = privateCommonJs(new Map(), new Map([[groupingFile, linearPartitionGrouping]]))(groupingFile) as Grouping;

function metadata(n: number): unknown[] {
  return Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0 }));
}

describe('kafkajs producer patch: messages grouped by partition in one pass', () => {
  it('gives the unpatched grouping: same partitions, in key order, same message objects in send order', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const random = prng(seed);
      const partitions = 1 + Math.floor(random() * 12);
      const messages: Message[] = Array.from({ length: Math.floor(random() * 300) }, (_, i) => ({
        key: random() < 0.2 ? null : `k${i}`,
        value: `v${i}`,
        ...(random() < 0.5 ? { partition: Math.floor(random() * partitions) } : {}),
      }));
      const seen: Message[] = [];
      const partitioner: Partitioner = ({ message, partitionMetadata }) => {
        seen.push(message);
        return message.partition ?? (message.value.length * 7 + (message.key?.length ?? 3)) % partitionMetadata.length;
      };
      const args = { topic: 't', partitionMetadata: metadata(partitions), messages, partitioner };
      const want = original(args);
      const asked = seen.splice(0);
      const got = patched(args);
      expect(seen).toEqual(asked);
      expect(Object.keys(got)).toEqual(Object.keys(want));
      for (const p of Object.keys(want)) {
        expect(got[p]!.length).toBe(want[p]!.length);
        got[p]!.forEach((m, i) => expect(m).toBe(want[p]![i]));
      }
    }
  });

  it('returns an empty grouping without partition metadata, as kafkajs does', () => {
    const partitioner: Partitioner = () => {
      throw new Error('not asked without metadata');
    };
    const args = { topic: 't', partitionMetadata: [], messages: [{ key: 'a', value: 'b' }], partitioner };
    expect(patched(args)).toEqual({});
    expect(original(args)).toEqual({});
  });

  it('keeps 20,000 messages of one partition in order', () => {
    const messages: Message[] = Array.from({ length: 20_000 }, (_, i) => ({ key: null, value: String(i) }));
    const got = patched({ topic: 't', partitionMetadata: metadata(1), messages, partitioner: () => 0 });
    expect(Object.keys(got)).toEqual(['0']);
    expect(got['0']!.map((m) => m.value)).toEqual(messages.map((m) => m.value));
  });

  it('refuses a module whose text changed (fails at load, not on the wire)', () => {
    expect(() => linearPartitionGrouping('module.exports = () => ({})')).toThrow(/not the grouping this patch was written for/);
  });
});

describe('kafkajs producer patch: the Produce v3 request without object spreads', () => {
  const requestFile = path.join(root, 'src/protocol/requests/produce/v3/request.js');
  type ProduceMessage = {
    key: Buffer | string | null;
    value: Buffer | string | null;
    timestamp?: number;
    headers?: Record<string, unknown>;
  };
  type ProduceRequest = (args: {
    acks: number;
    timeout: number;
    transactionalId?: string | null;
    producerId?: unknown;
    producerEpoch?: number;
    compression?: number;
    topicData: Array<{ topic: string; partitions: Array<{ partition: number; firstSequence?: number; messages: ProduceMessage[] }> }>;
  }) => { encode(): Promise<{ buffer: Buffer }> };
  const unpatched = hostRequire(requestFile) as ProduceRequest;
  const withoutSpreads = privateCommonJs(new Map(), new Map([[requestFile, produceRequestWithoutSpreads]]))(requestFile) as ProduceRequest;
  const Long = hostRequire(path.join(root, 'src/utils/long.js')) as { fromValue(v: string): unknown };

  // every partition has messages and every message a timestamp: otherwise the request takes Date.now() and two encodes differ
  function topicData(random: () => number) {
    const topics = 1 + Math.floor(random() * 3);
    return Array.from({ length: topics }, (_, t) => ({
      topic: `topic-${t}`,
      partitions: Array.from({ length: 1 + Math.floor(random() * 4) }, (_, p) => ({
        partition: p,
        ...(random() < 0.7 ? { firstSequence: Math.floor(random() * 1000) } : {}),
        messages: Array.from({ length: 1 + Math.floor(random() * 40) }, (_, i): ProduceMessage => {
          const r = random();
          return {
            key: r < 0.2 ? null : r < 0.6 ? `key-${i}` : Buffer.from([i & 255, 0, 7]),
            value:
              random() < 0.1 ? null : random() < 0.5 ? `{"n":${i},"s":"ünï"}`.repeat(1 + Math.floor(random() * 5)) : Buffer.alloc(i, 3),
            timestamp: 1_700_000_000_000 + Math.floor(random() * 100_000),
            ...(random() < 0.3 ? { headers: { h: `v${i}`, multi: ['a', Buffer.from('b')] } } : {}),
            // fields the record encoder never reads: they must not change the bytes
            ...(random() < 0.3 ? { partition: p, extra: { ignored: true } } : {}),
          } as ProduceMessage;
        }),
      })),
    }));
  }

  it('encodes the same bytes as the unpatched request (random topics, partitions, keys, values, headers)', async () => {
    for (let seed = 1; seed <= 60; seed++) {
      const random = prng(seed);
      const args = {
        acks: -1,
        timeout: 30_000,
        ...(random() < 0.7
          ? { transactionalId: `txn-${seed}`, producerId: Long.fromValue(String(4000 + seed)), producerEpoch: seed % 7 }
          : {}),
        topicData: topicData(random),
      };
      const want = (await unpatched(args).encode()).buffer;
      const got = (await withoutSpreads(args).encode()).buffer;
      expect(got.equals(want)).toBe(true);
    }
  });

  it('refuses a request module whose text changed', () => {
    expect(() => produceRequestWithoutSpreads('module.exports = () => ({})')).toThrow(/not the request this patch was written for/);
  });
});
