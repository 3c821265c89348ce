import { createRequire } from 'node:module';
import { crc32c, fasterCrc32c } from '../../src/cdc/kafka/crc32c.js';
import { prng } from '../support/prng.js';

// The oracle: kafkajs's own byte-at-a-time CRC32C, unpatched.
const original = createRequire(import.meta.url)('@shardline/kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;

describe('CRC32C eight bytes a step', () => {
  it('gives the standard check value and kafkajs’s result on every length up to 600 and at every alignment', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    const rnd = prng(32);
    const pool = Buffer.from(Array.from({ length: 4096 }, () => Math.floor(rnd() * 256)));
    for (let length = 0; length <= 600; length++) {
      const from = Math.floor(rnd() * (pool.length - length));
      const slice = pool.subarray(from, from + length);
      expect(crc32c(slice)).toBe(original(slice) >>> 0);
    }
    for (const size of [4096, 65_537, 1 << 20]) {
      const big = Buffer.alloc(size);
      for (let i = 0; i < size; i++) big[i] = (i * 2654435761) >>> 24;
      expect(crc32c(big)).toBe(original(big) >>> 0);
    }
  });

  it('replaces kafkajs’s function only when both agree', () => {
    expect(fasterCrc32c(original)).toBe(crc32c);
    expect(() => fasterCrc32c((b: Buffer) => original(b) ^ 1)).toThrow(/another checksum/);
    expect(() => fasterCrc32c({})).toThrow(/no longer exports a function/);
  });
});
