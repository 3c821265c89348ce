import { createRequire } from 'node:module';
import path from 'node:path';
import { keyedPartition, murmur2 } from '../../src/cdc/kafka/murmur2.js';
import { prng } from '../support/prng.js';

// Oracles: kafkajs's own murmur2 (BigInt-backed Long arithmetic) and its default partitioner, unpatched.
const hostRequire = createRequire(import.meta.url);
const root = path.dirname(hostRequire.resolve('@shardline/kafkajs/package.json'));
const kafkajsMurmur2 = hostRequire(path.join(root, 'src/producer/partitioners/default/murmur2.js')) as (key: Buffer | string) => number;
const { Partitioners } = hostRequire(root) as {
  Partitioners: { DefaultPartitioner: () => (a: { topic: string; partitionMetadata: unknown[]; message: { key: unknown } }) => number };
};

describe('murmur2 (Kafka default partitioner hash)', () => {
  it("matches Kafka's own test values (UtilsTest.testMurmur2)", () => {
    const cases: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of cases) {
      expect(murmur2(Buffer.from(key))).toBe(hash);
      expect(kafkajsMurmur2(Buffer.from(key))).toBe(hash);
    }
  });

  it("equals kafkajs's murmur2 for 20,000 keys of every length 0…64, every byte value, UTF-8 text and document ids", () => {
    const next = prng(0x5eed);
    let compared = 0;
    for (let n = 0; n < 20_000; n++) {
      const len = n < 65 ? n : Math.floor(next() * 65);
      const key = Buffer.alloc(len);
      for (let i = 0; i < len; i++) key[i] = n % 3 === 0 ? 0xff - (i % 4) : Math.floor(next() * 256);
      expect(murmur2(key)).toBe(kafkajsMurmur2(key));
      compared++;
    }
    for (const text of ['', 'é', '日本語のキー', '["42",7]', '9223372036854775807', '-1', 'x'.repeat(1000)]) {
      expect(murmur2(Buffer.from(text))).toBe(kafkajsMurmur2(Buffer.from(text)));
      compared++;
    }
    expect(compared).toBe(20_007);
  });

  it("puts a keyed record on the partition kafkajs's default partitioner chooses, for 1…64 partitions", () => {
    const partitioner = Partitioners.DefaultPartitioner();
    const next = prng(99);
    for (let n = 0; n < 3_000; n++) {
      const partitions = 1 + (n % 64);
      const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0 }));
      const key = n % 2 ? String(Math.floor(next() * 2 ** 53)) : JSON.stringify([n, `user-${n}`]);
      const expected = partitioner({ topic: 't', partitionMetadata, message: { key } });
      expect(keyedPartition(key, partitions)).toBe(expected);
      expect(keyedPartition(Buffer.from(key), partitions)).toBe(expected);
    }
  });
});
