/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka record batches,
 * eight bytes per step (slicing-by-8) instead of kafkajs's one: every batch shardline produces and
 * every batch it fetches (see kafkajs-crc-check.ts) goes through it.
 */

const POLY = 0x82f63b78;

/** 8 tables of 256: table k gives the CRC of a byte followed by k zero bytes. */
const T = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/** The CRC32C of `bytes`, unsigned. */
export function crc32c(bytes: Uint8Array): number {
  let crc = -1;
  let i = 0;
  const n = bytes.length;
  for (const end = n - 7; i < end; i += 8) {
    const a = crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    crc =
      T[1792 + (a & 0xff)]! ^
      T[1536 + ((a >>> 8) & 0xff)]! ^
      T[1280 + ((a >>> 16) & 0xff)]! ^
      T[1024 + (a >>> 24)]! ^
      T[768 + bytes[i + 4]!]! ^
      T[512 + bytes[i + 5]!]! ^
      T[256 + bytes[i + 6]!]! ^
      T[bytes[i + 7]!]!;
  }
  for (; i < n; i++) crc = T[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** Inputs on which {@link crc32c} must agree with the implementation it replaces before it does. */
const CHECKS: readonly Buffer[] = [
  Buffer.alloc(0),
  Buffer.from('123456789'),
  Buffer.from(Array.from({ length: 1031 }, (_, i) => (i * 131 + 7) & 0xff)),
];

/**
 * `crc32c` in place of kafkajs's `src/protocol/recordBatch/crc32C/crc32C.js` exports, after
 * checking both give the same on {@link CHECKS} (the standard check value of "123456789" is
 * 0xE3069283). @throws {Error} when they differ (a kafkajs whose CRC is not this one fails at load)
 */
export function fasterCrc32c(original: unknown): (bytes: Uint8Array) => number {
  if (typeof original !== 'function') throw new Error('src/protocol/recordBatch/crc32C/crc32C.js no longer exports a function');
  for (const b of CHECKS) {
    if ((original as (b: Buffer) => number)(b) >>> 0 !== crc32c(b))
      throw new Error('src/protocol/recordBatch/crc32C/crc32C.js computes another checksum than CRC32C');
  }
  return crc32c;
}
