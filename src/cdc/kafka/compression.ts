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
  compressFrameSync(data: Buffer): Buffer;
  decompressFrameSync(data: Buffer): Buffer;
}

/**
 * Frames below this size are (de)compressed on the event loop: a call through libuv's thread
 * pool costs 25–35 µs of CPU more than the work itself (lz4-napi on the 2-core dev VM: 2 KB
 * compressed in 10.7 µs inline, 27.9 µs through the pool; decompressed in 3.7 against 33.2),
 * and a transactional reader makes hundreds of small batches a second. Larger frames keep the
 * pool, so no inline call blocks the loop for more than ~0.3 ms.
 */
export const LZ4_INLINE_MAX_BYTES = 256 * 1024;

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
 * lz4-napi: frames from {@link LZ4_INLINE_MAX_BYTES} up on libuv's thread pool, off the event
 * loop, smaller ones inline. The binding loads at first use. Registered in shardline's private kafkajs, so its consumers also
 * read LZ4 batches of other producers. `load` returns the binding (tests inject a failing one).
 */
export function lz4Codec(load: () => unknown = () => hostRequire('lz4-napi')): KafkajsCodec {
  let binding: Lz4Binding | null = null;
  const lz4 = () => (binding ??= loadLz4(load));
  return {
    compress: async (encoder) => {
      const data = encoder.buffer;
      return data.length < LZ4_INLINE_MAX_BYTES ? lz4().compressFrameSync(data) : lz4().compressFrame(data);
    },
    decompress: async (buffer) =>
      buffer.length < LZ4_INLINE_MAX_BYTES ? lz4().decompressFrameSync(buffer) : lz4().decompressFrame(buffer),
  };
}
