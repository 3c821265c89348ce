import { KafkaError } from '../../src/errors/index.js';
import { LZ4_INLINE_MAX_BYTES, lz4Codec } from '../../src/cdc/kafka/compression.js';
import { kafkajs } from '../../src/cdc/kafka/kafkajs-loader.js';

describe('lz4Codec', () => {
  it('compresses to an LZ4 frame and back, byte for byte', async () => {
    const codec = lz4Codec();
    const data = Buffer.from(JSON.stringify({ after: { bio: 'ab'.repeat(5000), n: 'ünï' } }));
    const frame = await codec.compress({ buffer: data });
    expect(frame.readUInt32LE(0)).toBe(0x184d2204); // the LZ4 frame magic number
    expect(frame.length).toBeLessThan(data.length / 10);
    expect((await codec.decompress(frame)).equals(data)).toBe(true);
  });

  it.each([
    ['inline', 1000],
    ['on the thread pool', LZ4_INLINE_MAX_BYTES * 2],
  ])('round-trips frames compressed %s, and any LZ4 frame decompresses either way', async (_how, size) => {
    const codec = lz4Codec();
    let x = 7;
    const data = Buffer.from(
      Array.from({ length: size }, () => String.fromCharCode(97 + ((x = (x * 1103515245 + 12345) % 2 ** 31) % 26))).join(''),
    );
    const frame = await codec.compress({ buffer: data });
    expect(frame.readUInt32LE(0)).toBe(0x184d2204);
    expect((await codec.decompress(frame)).equals(data)).toBe(true);
    const other = await codec.compress({ buffer: Buffer.concat([data, data, data]) });
    expect((await codec.decompress(other)).equals(Buffer.concat([data, data, data]))).toBe(true);
  });

  it('rejects a corrupt frame (a rejected promise, not a throw)', async () => {
    const codec = lz4Codec();
    const frame = await codec.compress({ buffer: Buffer.from('x'.repeat(500)) });
    const pending = codec.decompress(frame.subarray(0, frame.length - 6));
    await expect(pending).rejects.toThrow();
    await expect(codec.decompress(Buffer.from('not an lz4 frame'))).rejects.toThrow();
  });

  it('is the LZ4 codec of shardline’s kafkajs', () => {
    const codecs = kafkajs.CompressionCodecs as Record<number, () => unknown>;
    expect(typeof (codecs[kafkajs.CompressionTypes.LZ4]!() as { compress?: unknown }).compress).toBe('function');
  });

  it('without its binding fails with a typed error that names the setting, not a crash at load', async () => {
    const codec = lz4Codec(() => {
      throw new Error('Cannot find module lz4-napi');
    });
    const err = await codec.compress({ buffer: Buffer.from('x') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KafkaError);
    expect((err as KafkaError).retriable).toBe(false);
    expect((err as KafkaError).message).toMatch(/cdc\.compression to gzip or none/);
  });
});
