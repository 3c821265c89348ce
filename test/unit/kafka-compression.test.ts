import { KafkaError } from '../../src/errors/index.js';
import { lz4Codec } from '../../src/cdc/kafka/compression.js';
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
