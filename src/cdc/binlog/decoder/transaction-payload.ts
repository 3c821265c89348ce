import { Decompress } from 'fzstd';
import { ByteReader, TruncatedError } from './byte-reader.js';
import { EventType } from './event-types.js';

/** Compression types of a TRANSACTION_PAYLOAD (mysql::binlog::event::compression::type). */
export const PayloadCompression = { ZSTD: 0, NONE: 255 } as const;

/** The TLV header of a TRANSACTION_PAYLOAD event and its payload bytes. */
export interface PayloadHeader {
  compression: number;
  payloadSize: number;
  uncompressedSize: number;
  payload: Buffer;
}

const enum Field {
  END_MARK = 0,
  PAYLOAD_SIZE = 1,
  COMPRESSION_TYPE = 2,
  UNCOMPRESSED_SIZE = 3,
}

/** Uncompressed payloads declared larger than this are refused before anything is allocated. */
export const MAX_UNCOMPRESSED_PAYLOAD = 2 ** 40;
/** The largest inner event accepted (MySQL's max_log_event_size, 1 GiB). */
export const MAX_INNER_EVENT = 2 ** 30;
/** The largest zstd window accepted (libzstd's default decoder limit, ZSTD_WINDOWLOG_LIMIT_DEFAULT = 27). */
export const MAX_ZSTD_WINDOW = 2 ** 27;

const HEADER = 19;
const CHUNK = 64 * 1024;

/**
 * Parses the body of a TRANSACTION_PAYLOAD event (Transaction_payload::decode): (type, length, value)
 * triplets of packed integers up to the end mark, then the payload.
 */
export function parsePayloadHeader(body: Buffer): PayloadHeader {
  const r = new ByteReader(body);
  let compression = -1;
  let payloadSize = -1;
  let uncompressedSize = 0;
  for (;;) {
    const type = r.packed();
    if (type === Field.END_MARK) break;
    const length = r.packed();
    switch (type) {
      case Field.PAYLOAD_SIZE:
        payloadSize = r.packed();
        break;
      case Field.COMPRESSION_TYPE:
        compression = r.packed();
        break;
      case Field.UNCOMPRESSED_SIZE:
        uncompressedSize = r.packed();
        break;
      default:
        r.skip(length);
    }
  }
  if (payloadSize < 0) throw new TruncatedError('TRANSACTION_PAYLOAD without a payload size');
  if (payloadSize !== r.remaining)
    throw new TruncatedError(`TRANSACTION_PAYLOAD says ${payloadSize} payload bytes but ${r.remaining} follow its header`);
  if (compression !== PayloadCompression.ZSTD && compression !== PayloadCompression.NONE) {
    throw new TruncatedError(`TRANSACTION_PAYLOAD compression type ${compression} is not supported`);
  }
  if (compression === PayloadCompression.NONE) uncompressedSize = payloadSize;
  else if (uncompressedSize === 0 && payloadSize > 0) throw new TruncatedError('zstd TRANSACTION_PAYLOAD without its uncompressed size');
  if (uncompressedSize > MAX_UNCOMPRESSED_PAYLOAD)
    throw new TruncatedError(`TRANSACTION_PAYLOAD declares ${uncompressedSize} uncompressed bytes`);
  return { compression, payloadSize, uncompressedSize, payload: r.rest() };
}

/** Bytes that arrive in chunks and leave as events; an event inside one chunk is not copied. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  private offset = 0;
  length = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Copies up to n bytes from the front without consuming them. */
  peek(n: number): Buffer {
    const out = Buffer.alloc(Math.min(n, this.length));
    let at = 0;
    let off = this.offset;
    for (const c of this.chunks) {
      if (at >= out.length) break;
      const part = c.subarray(off, off + out.length - at);
      out.set(part, at);
      at += part.length;
      off = 0;
    }
    return out;
  }

  take(n: number): Buffer {
    const head = this.chunks[0]!;
    let out: Buffer;
    if (head.length - this.offset >= n) {
      out = Buffer.from(head.buffer, head.byteOffset + this.offset, n);
      this.offset += n;
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const c = this.chunks[0]!;
        const part = c.subarray(this.offset, this.offset + n - at);
        out.set(part, at);
        at += part.length;
        this.offset += part.length;
        if (this.offset === c.length) {
          this.chunks.shift();
          this.offset = 0;
        }
      }
    }
    if (this.chunks[0] && this.offset === this.chunks[0].length) {
      this.chunks.shift();
      this.offset = 0;
    }
    this.length -= n;
    return out;
  }
}

/** Takes the next whole inner event off the queue, or null when more bytes are needed. */
function nextInnerEvent(q: ByteQueue): Buffer | null {
  if (q.length < HEADER) return null;
  const head = q.peek(HEADER);
  const type = head[4]!;
  const size = head.readUInt32LE(9);
  if (type === EventType.TRANSACTION_PAYLOAD) throw new TruncatedError('TRANSACTION_PAYLOAD contains a TRANSACTION_PAYLOAD');
  if (size < HEADER) throw new TruncatedError(`inner event of ${size} bytes is shorter than its header`);
  if (size > MAX_INNER_EVENT) throw new TruncatedError(`inner event of ${size} bytes exceeds ${MAX_INNER_EVENT}`);
  return q.length >= size ? q.take(size) : null;
}

/** Walks the zstd frames of a payload (without decoding) and returns the chunks to feed the decompressor. */
function zstdInput(payload: Buffer, uncompressed: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  const need = (pos: number, n: number) => {
    if (pos + n > payload.length) throw new TruncatedError(`zstd payload truncated at offset ${pos}`);
  };
  const shrunk = Math.max(0, Math.ceil(Math.log2(Math.max(uncompressed, 1024))) - 10);
  let pos = 0;
  while (pos < payload.length) {
    need(pos, 8);
    const magic = payload.readUInt32LE(pos);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      const size = payload.readUInt32LE(pos + 4);
      need(pos, 8 + size);
      pos += 8 + size;
      continue;
    }
    if (magic !== 0xfd2fb528) throw new TruncatedError(`not a zstd frame at payload offset ${pos}`);
    const fhd = payload[pos + 4]!;
    const single = (fhd >> 5) & 1;
    const fcsFlag = fhd >> 6;
    if (fhd & 0x08) throw new TruncatedError('zstd frame header has its reserved bit set');
    if (fhd & 0x03) throw new TruncatedError('zstd frame needs a dictionary');
    const fcsBytes = fcsFlag === 0 ? single : 1 << fcsFlag;
    const headerLen = 5 + (single ? 0 : 1) + fcsBytes;
    need(pos, headerLen);
    if (fcsBytes > 0) {
      const at = pos + headerLen - fcsBytes;
      const contentSize =
        fcsBytes === 8 ? Number(payload.readBigUInt64LE(at)) : payload.readUIntLE(at, fcsBytes) + (fcsBytes === 2 ? 256 : 0);
      if (contentSize > uncompressed) throw new TruncatedError(`zstd frame of ${contentSize} bytes in a payload of ${uncompressed}`);
    }
    const header = Buffer.from(payload.subarray(pos, pos + headerLen));
    if (!single) {
      const wd = header[5]!;
      const base = 2 ** (10 + (wd >> 3));
      const window = base + (base / 8) * (wd & 7);
      if (window > MAX_ZSTD_WINDOW) throw new TruncatedError(`zstd window of ${window} bytes exceeds ${MAX_ZSTD_WINDOW}`);
      if (2 ** (10 + shrunk) < window) header[5] = shrunk << 3;
    }
    chunks.push(header);
    let p = pos + headerLen;
    for (let last = 0; !last;) {
      need(p, 3);
      const bh = payload.readUIntLE(p, 3);
      last = bh & 1;
      const type = (bh >> 1) & 3;
      if (type === 3) throw new TruncatedError('zstd block of the reserved type');
      p += 3 + (type === 1 ? 1 : bh >>> 3);
      need(p, 0);
    }
    if (fhd & 0x04) p += 4;
    need(p, 0);
    for (let at = pos + headerLen; at < p; at += CHUNK) chunks.push(payload.subarray(at, Math.min(p, at + CHUNK)));
    pos = p;
  }
  return chunks;
}

/**
 * The inner events of a TRANSACTION_PAYLOAD, one at a time: each with its own 19-byte header and
 * no checksum. zstd is decompressed as a stream (the whole transaction is never held at once), the
 * output is bounded by the declared uncompressed size, and the window by that size too.
 */
export function* payloadEvents(h: PayloadHeader): Generator<Buffer> {
  const q = new ByteQueue();
  if (h.compression === PayloadCompression.NONE) {
    q.push(h.payload);
    for (let ev = nextInnerEvent(q); ev; ev = nextInnerEvent(q)) yield ev;
  } else {
    const input = zstdInput(h.payload, h.uncompressedSize);
    let produced = 0;
    const zstd = new Decompress((data) => {
      produced += data.length;
      if (produced > h.uncompressedSize) throw new TruncatedError(`zstd payload inflates beyond its declared ${h.uncompressedSize} bytes`);
      q.push(data);
    });
    for (let i = 0; i < input.length; i++) {
      zstd.push(input[i]!, i === input.length - 1);
      for (let ev = nextInnerEvent(q); ev; ev = nextInnerEvent(q)) yield ev;
    }
    if (produced !== h.uncompressedSize)
      throw new TruncatedError(`zstd payload inflates to ${produced} bytes, its header says ${h.uncompressedSize}`);
  }
  if (q.length > 0) throw new TruncatedError(`TRANSACTION_PAYLOAD ends inside an inner event (${q.length} bytes left)`);
}
