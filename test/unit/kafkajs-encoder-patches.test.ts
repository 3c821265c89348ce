import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { encoderWithFastVarints, encoderWithoutZeroFill, patchedEncoder } from '../../src/cdc/kafka/kafkajs-encoder-patches.js';
import { privateCommonJs } from '../../src/cdc/kafka/private-commonjs.js';

// The oracle: kafkajs's own, unpatched files, loaded by Node's require.
const hostRequire = createRequire(import.meta.url);
const root = path.dirname(hostRequire.resolve('@shardline/kafkajs/package.json'));
const encoderFile = path.join(root, 'src/protocol/encoder.js');
const recordFile = path.join(root, 'src/protocol/recordBatch/record/v0/index.js');

interface EncoderLike {
  buffer: Buffer;
  writeVarInt(v: unknown): EncoderLike;
  writeUVarInt(v: unknown): EncoderLike;
  writeVarLong(v: unknown): EncoderLike;
}
type EncoderClass = (new () => EncoderLike) & { sizeOfVarLong(v: unknown): number };
type RecordFn = (r: Record<string, unknown>) => EncoderLike;

const Original = hostRequire(encoderFile) as EncoderClass;
const originalRecord = hostRequire(recordFile) as RecordFn;
const patchedRequire = privateCommonJs(new Map(), new Map([[encoderFile, patchedEncoder]]));
const Patched = patchedRequire(encoderFile) as EncoderClass;
const patchedRecord = patchedRequire(recordFile) as RecordFn;

/** Deterministic pseudo-random numbers (xorshift32). */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const edges = [
  0,
  1,
  -1,
  63,
  -64,
  64,
  -65,
  127,
  128,
  8191,
  -8192,
  8192,
  2 ** 20,
  -(2 ** 20),
  2 ** 30 - 1,
  -(2 ** 30),
  2 ** 30,
  -(2 ** 30) - 1,
];
const wide = [
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 31,
  2 ** 32,
  -(2 ** 32),
  2 ** 40 + 7,
  -(2 ** 45),
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
];

function bytes(E: EncoderClass, write: (e: EncoderLike) => void): string {
  const e = new E();
  write(e);
  return e.buffer.toString('hex');
}

describe("kafkajs Encoder patches (shardline's private copy)", () => {
  it('write the same varints, uvarints and varlongs as the unpatched Encoder', () => {
    const next = rng(0x5eed);
    const values = [...edges, ...wide];
    for (let i = 0; i < 2000; i++) values.push(Math.floor((next() - 0.5) * 2 ** (1 + Math.floor(next() * 52))));
    for (const v of values) {
      expect([v, bytes(Patched, (e) => e.writeVarLong(v))]).toEqual([v, bytes(Original, (e) => e.writeVarLong(v))]);
      expect([v, Patched.sizeOfVarLong(v)]).toEqual([v, Original.sizeOfVarLong(v)]);
      if (Math.abs(v) < 2 ** 31) {
        expect([v, bytes(Patched, (e) => e.writeVarInt(v))]).toEqual([v, bytes(Original, (e) => e.writeVarInt(v))]);
        expect([v, bytes(Patched, (e) => e.writeUVarInt(v))]).toEqual([v, bytes(Original, (e) => e.writeUVarInt(v))]);
      }
    }
    const all = (E: EncoderClass) =>
      bytes(E, (e) => {
        for (const v of values) {
          e.writeVarLong(v);
          if (Math.abs(v) < 2 ** 31) e.writeVarInt(v).writeUVarInt(v);
        }
      });
    expect(all(Patched)).toBe(all(Original));
    // strings and 64-bit values take kafkajs's own path, and a fraction fails there as before
    for (const v of [1.5, -2.5]) {
      expect(() => bytes(Original, (e) => e.writeVarLong(v))).toThrow(/cannot be converted to a BigInt/);
      expect(() => bytes(Patched, (e) => e.writeVarLong(v))).toThrow(/cannot be converted to a BigInt/);
    }
    for (const v of ['17', '-9000000000', BigInt(2) ** BigInt(62)])
      expect(bytes(Patched, (e) => e.writeVarLong(v))).toBe(bytes(Original, (e) => e.writeVarLong(v)));
  });

  it('encode records byte for byte as the unpatched Encoder, many varints in one buffer', () => {
    const next = rng(42);
    const text = (n: number) => Array.from({ length: n }, () => String.fromCodePoint(32 + Math.floor(next() * 0x2000))).join('');
    for (let i = 0; i < 500; i++) {
      const record = {
        offsetDelta: Math.floor(next() * 20_000),
        timestampDelta: i % 50 === 0 ? Math.floor(next() * 2 ** 40) : Math.floor(next() * 5000),
        key: i % 7 === 0 ? null : text(Math.floor(next() * 40)),
        value: i % 11 === 0 ? null : i % 3 === 0 ? Buffer.from(text(Math.floor(next() * 3000))) : text(Math.floor(next() * 3000)),
        headers: i % 5 === 0 ? { previous_key: text(10), other: [text(3), text(200)] } : {},
      };
      expect(patchedRecord(record).buffer.toString('hex')).toBe(originalRecord(record).buffer.toString('hex'));
    }
  });

  it('refuse an Encoder whose text changed, at load', () => {
    const source = readFileSync(encoderFile, 'utf8');
    expect(() => encoderWithFastVarints(source.replace('byteArray.push(value & OTHER_BITS)', 'byteArray.push(value & 0x7f)'))).toThrow(
      /not the Encoder this patch was written for/,
    );
    expect(() => encoderWithoutZeroFill(source.replace('Buffer.alloc(', 'Buffer.allocUnsafeSlow('))).toThrow(
      /2 Buffer.alloc|1 Buffer.alloc/,
    );
    expect(patchedEncoder(source)).not.toContain('Buffer.from(byteArray)\n    return this\n  }\n\n  writeVarLong');
  });
});
