import { createRequire } from 'node:module';
import path from 'node:path';
import { recordDecoderWithNumbers } from '../../src/cdc/kafka/kafkajs-decoder-patches.js';
import { privateCommonJs } from '../../src/cdc/kafka/private-commonjs.js';

// The oracle: kafkajs's own, unpatched files, loaded by Node's require.
const hostRequire = createRequire(import.meta.url);
const root = path.dirname(hostRequire.resolve('@shardline/kafkajs/package.json'));
const recordDecoderFile = path.join(root, 'src/protocol/recordBatch/record/v0/decoder.js');
const batchDecoderFile = path.join(root, 'src/protocol/recordBatch/v0/decoder.js');
const decoderFile = path.join(root, 'src/protocol/decoder.js');

type DecoderClass = new (buffer: Buffer) => unknown;
type BatchDecode = (decoder: unknown) => Promise<{ records: Array<Record<string, unknown>> }>;
type RecordFn = (r: Record<string, unknown>) => unknown;
type RecordBatchFn = (b: Record<string, unknown>) => Promise<{ buffer: Buffer }>;

const { RecordBatch } = hostRequire(path.join(root, 'src/protocol/recordBatch/v0/index.js')) as { RecordBatch: RecordBatchFn };
const Record = hostRequire(path.join(root, 'src/protocol/recordBatch/record/v0/index.js')) as RecordFn;
const originalDecode = hostRequire(batchDecoderFile) as BatchDecode;
const OriginalDecoder = hostRequire(decoderFile) as DecoderClass;
const patchedRequire = privateCommonJs(new Map(), new Map([[recordDecoderFile, recordDecoderWithNumbers]]));
const patchedDecode = patchedRequire(batchDecoderFile) as BatchDecode;
const PatchedDecoder = patchedRequire(decoderFile) as DecoderClass;

/** Everything a consumer reads of a decoded record, Buffers as hex, the batch context without its identity. */
function comparable(records: Array<Record<string, unknown>>): unknown {
  return JSON.parse(
    JSON.stringify(records, (_k, v: unknown) =>
      v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer'
        ? `hex:${Buffer.from((v as { data: number[] }).data).toString('hex')}`
        : v,
    ),
  );
}

async function batchOf(
  firstOffset: string,
  firstTimestamp: string,
  deltas: readonly (number | string)[],
  logAppendTime = false,
): Promise<Buffer> {
  const records = deltas.map((timestampDelta, i) =>
    Record({
      offsetDelta: i * 977,
      timestampDelta,
      key: i % 5 === 0 ? null : Buffer.from(`k${i}`),
      value: i % 7 === 0 ? null : Buffer.from(`value ${i}`),
      headers: i % 3 === 0 ? {} : { previous_key: Buffer.from(`p${i}`), h: [Buffer.from('a'), Buffer.from('b')] },
    }),
  );
  const { buffer } = await RecordBatch({
    compression: 0,
    firstOffset,
    firstTimestamp,
    maxTimestamp: '1796514318652',
    lastOffsetDelta: deltas.length - 1,
    records,
  });
  // Attributes (int16 at byte 21): bit 3 is the timestamp type (the encoder always writes CREATE_TIME).
  if (logAppendTime) buffer[22]! |= 0x08;
  return buffer;
}

async function both(buffer: Buffer) {
  const original = await originalDecode(new OriginalDecoder(buffer));
  const patched = await patchedDecode(new PatchedDecoder(buffer));
  return { original: comparable(original.records), patched: comparable(patched.records) };
}

const deltas = [
  0,
  1,
  -1,
  63,
  -64,
  64,
  -65,
  8191,
  -8192,
  2 ** 20,
  -(2 ** 20),
  2 ** 27 - 1,
  -(2 ** 27),
  2 ** 27,
  -(2 ** 27) - 1,
  2 ** 30,
  -(2 ** 31),
  2 ** 31 - 1,
  2 ** 40,
  -(2 ** 40),
  '9007199254740993',
  '-9007199254740993',
  '4611686018427387903',
  '-4611686018427387904',
];
const firsts = [
  '0',
  '1',
  '-1',
  '123456789',
  '999999999999999',
  '-999999999999999',
  '1000000000000000',
  '9007199254740993',
  '9223372036854775000',
  '-9223372036854775000',
];

describe('kafkajs record decoder patch (numbers instead of BigInt for timestamps and offsets)', () => {
  it('decodes every record exactly as the unpatched decoder: deltas from 0 to 63 bits, first offsets and timestamps up to 19 digits', async () => {
    let compared = 0;
    for (const first of firsts) {
      for (const ts of ['1796514318652', first]) {
        const { original, patched } = await both(await batchOf(first, ts, deltas));
        expect(patched).toEqual(original);
        compared += deltas.length;
      }
    }
    expect(compared).toBe(firsts.length * 2 * deltas.length);
  });

  it('keeps the broker time of LOG_APPEND_TIME batches and still reads the deltas after it', async () => {
    const { original, patched } = await both(await batchOf('42', '1796514318000', deltas, true));
    expect(patched).toEqual(original);
    expect((patched as Array<{ timestamp: string; offset: string }>).map((r) => r.timestamp)).toEqual(deltas.map(() => '1796514318652'));
    expect((patched as Array<{ offset: string }>).at(-1)!.offset).toBe(String(42 + (deltas.length - 1) * 977));
  });

  it('follows consecutive batches with different first offsets (no stale base kept between them)', async () => {
    const a = await batchOf('1000', '5000', [1, 2, 3]);
    const b = await batchOf('2000', '6000', [1, 2, 3]);
    for (const buffer of [a, b, a, b]) {
      const { original, patched } = await both(buffer);
      expect(patched).toEqual(original);
    }
    const { patched } = await both(b);
    expect((patched as Array<{ offset: string; timestamp: string }>).map((r) => `${r.offset}@${r.timestamp}`)).toEqual([
      '2000@6001',
      '2977@6002',
      '3954@6003',
    ]);
  });

  it('refuses a decoder whose text changed', () => {
    expect(() => recordDecoderWithNumbers('module.exports = () => ({})')).toThrow(/not the record decoder/);
  });
});
