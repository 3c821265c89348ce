import { createRequire } from 'node:module';
import path from 'node:path';
import { recordBatchDecoderWithCrcCheck } from '../../src/cdc/kafka/kafkajs-crc-check.js';
import { privateCommonJs } from '../../src/cdc/kafka/private-commonjs.js';
import { prng } from '../support/prng.js';

// Batches made by kafkajs's own, unpatched encoder (its CRC32C) are what a broker serves.
const hostRequire = createRequire(import.meta.url);
const root = path.dirname(hostRequire.resolve('@shardline/kafkajs/package.json'));
const batchDecoderFile = path.join(root, 'src/protocol/recordBatch/v0/decoder.js');
const decoderFile = path.join(root, 'src/protocol/decoder.js');
const fetchMessagesFile = path.join(root, 'src/protocol/requests/fetch/v4/decodeMessages.js');

type DecoderClass = new (buffer: Buffer) => unknown;
type BatchDecode = (decoder: unknown) => Promise<{ records: Array<{ offset: string; value: Buffer | null }> }>;
type RecordFn = (r: Record<string, unknown>) => unknown;
type RecordBatchFn = (b: Record<string, unknown>) => Promise<{ buffer: Buffer }>;

const { RecordBatch } = hostRequire(path.join(root, 'src/protocol/recordBatch/v0/index.js')) as { RecordBatch: RecordBatchFn };
const Record = hostRequire(path.join(root, 'src/protocol/recordBatch/record/v0/index.js')) as RecordFn;
const Encoder = hostRequire(path.join(root, 'src/protocol/encoder.js')) as new () => {
  writeInt32(n: number): unknown;
  writeBuffer(b: Buffer): unknown;
  buffer: Buffer;
};
const checkedRequire = privateCommonJs(new Map(), new Map([[batchDecoderFile, recordBatchDecoderWithCrcCheck]]));
const checkedDecode = checkedRequire(batchDecoderFile) as BatchDecode;
const CheckedDecoder = checkedRequire(decoderFile) as DecoderClass;
const checkedFetchMessages = checkedRequire(fetchMessagesFile) as (d: unknown) => Promise<Array<{ offset: string }>>;

async function batchOf(firstOffset: string, values: readonly string[], compression = 0): Promise<Buffer> {
  const { buffer } = await RecordBatch({
    compression,
    firstOffset,
    firstTimestamp: '1796514318652',
    maxTimestamp: '1796514318652',
    lastOffsetDelta: values.length - 1,
    records: values.map((v, i) =>
      Record({ offsetDelta: i, timestampDelta: 0, key: Buffer.from(`k${i}`), value: Buffer.from(v), headers: {} }),
    ),
  });
  return buffer;
}

const decode = (buffer: Buffer) => checkedDecode(new CheckedDecoder(buffer));

describe('kafkajs record batch CRC32C check', () => {
  it('decodes intact batches (plain and gzip) as before', async () => {
    for (const compression of [0, 1]) {
      const batch = await decode(await batchOf('100', ['{"op":"c"}', 'ünïcödé ✓', ''], compression));
      expect(batch.records.map((r) => [r.offset, r.value?.toString()])).toEqual([
        ['100', '{"op":"c"}'],
        ['101', 'ünïcödé ✓'],
        ['102', ''],
      ]);
    }
  });

  it('refuses a batch with any one byte changed between its attributes and its end, naming the offset; retriable', async () => {
    const intact = await batchOf('7', ['{"op":"c","after":{"name":"Ann"}}', '{"op":"d"}']);
    // header: firstOffset 8, length 4, leader epoch 4, magic 1, crc 4 → the CRC covers byte 21 onwards
    const rnd = prng(11);
    let refused = 0;
    for (let at = 21; at < intact.length; at++) {
      const bad = Buffer.from(intact);
      bad[at] = bad[at]! ^ (1 << Math.floor(rnd() * 8));
      const err = await decode(bad).then(
        () => null,
        (e: unknown) => e as { name: string; message: string; retriable: boolean },
      );
      // a flip in a length field may also make the batch unreadable first; it must never decode
      expect(err).not.toBeNull();
      if (/CRC32C/.test(err!.message)) {
        refused++;
        expect(err!.name).toBe('KafkaJSError');
        expect(err!.retriable).toBe(true);
        expect(err!.message).toMatch(/^record batch at offset 7 failed its CRC32C check \(stored \d+, computed \d+\)/);
      }
    }
    expect(refused).toBe(intact.length - 21);
  });

  it('refuses a batch whose stored CRC was changed', async () => {
    const bad = await batchOf('0', ['x']);
    bad[17] = bad[17]! ^ 0x01;
    await expect(decode(bad)).rejects.toThrow(/CRC32C/);
  });

  it('still stops quietly at a partial batch at the end of a fetch, after the intact ones', async () => {
    const a = await batchOf('0', ['a', 'b']);
    const b = await batchOf('2', ['c', 'd']);
    const messages = Buffer.concat([a, b.subarray(0, b.length - 3)]);
    const e = new Encoder();
    e.writeInt32(messages.length);
    e.writeBuffer(messages);
    const records = await checkedFetchMessages(new CheckedDecoder(e.buffer));
    expect(records.map((r) => r.offset)).toEqual(['0', '1']);
  });

  it('fails at load when kafkajs no longer reads the CRC where the patch expects it', () => {
    expect(() => recordBatchDecoderWithCrcCheck('const crc = decoder.readInt32()\n')).toThrow(/no longer reads the CRC/);
  });
});
