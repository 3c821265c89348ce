import { createRequire } from 'node:module';
import { KafkaError } from '../../errors/index.js';

/** How shardline compresses the record batches it produces (`cdc.compression`). */
export type KafkaCompression = 'none' | 'gzip' | 'lz4';

/** kafkajs's compression codec interface. */
export interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

interface Lz4Binding {
  compressFrame(data: Buffer): Promise<Buffer>;
  decompressFrame(data: Buffer): Promise<Buffer>;
}

const hostRequire = createRequire(import.meta.url);

function loadLz4(load: () => unknown): Lz4Binding {
  try {
    return load() as Lz4Binding;
  } catch (err) {
    throw new KafkaError(
      'KAFKA',
      `LZ4 needs the package lz4-napi (prebuilt for this platform): ${(err as Error).message}; set cdc.compression to gzip or none`,
      { retriable: false, cause: err },
    );
  }
}

/**
 * Kafka's LZ4 codec (the LZ4 frame format of KIP-57, what the Java client writes and reads) on
 * lz4-napi, whose frame (de)compression runs on libuv's thread pool, off the event loop. The
 * binding loads at first use. Registered in shardline's private kafkajs, so its consumers also
 * read LZ4 batches of other producers. `load` returns the binding (tests inject a failing one).
 */
export function lz4Codec(load: () => unknown = () => hostRequire('lz4-napi')): KafkajsCodec {
  let binding: Lz4Binding | null = null;
  const lz4 = () => (binding ??= loadLz4(load));
  return {
    compress: async (encoder) => lz4().compressFrame(encoder.buffer),
    decompress: async (buffer) => lz4().decompressFrame(buffer),
  };
}
