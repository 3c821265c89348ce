import { createRequire } from 'node:module';
import path from 'node:path';
import {
  checkedRecordEncoderSource,
  directRecordEncoder,
  type RecordArgs,
  type RecordEncoder,
} from '../../src/cdc/kafka/kafkajs-record-encoder.js';
import { readFileSync } from 'node:fs';
import { privateCommonJs } from '../../src/cdc/kafka/private-commonjs.js';
import { prng } from '../support/prng.js';

// The oracle: kafkajs's own, unpatched record encoder, loaded by Node's require.
const hostRequire = createRequire(import.meta.url);
const root = path.dirname(hostRequire.resolve('@shardline/kafkajs/package.json'));
const recordFile = path.join(root, 'src/protocol/recordBatch/record/v0/index.js');
const original = hostRequire(recordFile) as RecordEncoder;
const direct = directRecordEncoder(original);
// the same encoder with no way back to kafkajs's: what it is handed, it must write itself
const directOnly = directRecordEncoder(() => {
  throw new Error('left to kafkajs');
});

type Outcome = { bytes: string } | { error: string };

function outcome(encode: RecordEncoder, args: RecordArgs): Outcome {
  try {
    return { bytes: encode(args).buffer.toString('hex') };
  } catch (err) {
    return { error: `${(err as Error).name}: ${(err as Error).message}` };
  }
}

/** `handled`: the direct path writes it (else kafkajs's own encoder does, or throws). */
function expectSame(args: RecordArgs, handled = true): void {
  const want = outcome(original, args);
  expect(outcome(handled ? directOnly : direct, args)).toEqual(want);
  if (!handled) expect(outcome(directOnly, args)).toEqual({ error: 'Error: left to kafkajs' });
}

const texts = [
  '',
  'k',
  'order-42',
  '["a",7]',
  'ünïcödé',
  '日本語のキー',
  '🙂🙃 emoji',
  'x'.repeat(127),
  'y'.repeat(128),
  'z'.repeat(20_000),
];

function pick<T>(random: () => number, xs: readonly T[]): T {
  return xs[Math.floor(random() * xs.length)]!;
}

function bytesOf(random: () => number): unknown {
  const r = random();
  if (r < 0.1) return null;
  if (r < 0.15) return undefined;
  const text = pick(random, texts);
  return r < 0.6 ? text : Buffer.from(text, 'utf8');
}

describe('kafkajs record encoder: each record written straight into one Buffer', () => {
  it('writes the bytes of the unpatched encoder for keys, values and headers of every kind', () => {
    const random = prng(14);
    for (let i = 0; i < 3000; i++) {
      const headers: Record<string, unknown> = {};
      const count = Math.floor(random() * 4);
      for (let h = 0; h < count; h++) {
        const key = pick(random, ['previous_key', 'h', 'clé', '']);
        const value = bytesOf(random) ?? 'v';
        headers[key] = random() < 0.3 ? [value, Buffer.from('second'), ''] : value;
      }
      expectSame({
        offsetDelta: Math.floor(random() * 5000),
        timestampDelta: Math.floor(random() * 2_000) - 100,
        key: bytesOf(random),
        value: bytesOf(random),
        headers: random() < 0.2 ? undefined : headers,
      });
    }
  });

  it('writes varints of every width: deltas and lengths at the 7, 14, 21 and 28-bit edges, ±2^30', () => {
    const edges = [0, 1, 63, 64, 127, 128, 8191, 8192, 16383, 16384, 1_048_575, 1_048_576, 268_435_455, 268_435_456, 0x3fffffff];
    for (const d of edges)
      for (const sign of [1, -1]) {
        expectSame({ offsetDelta: d, timestampDelta: sign * d, key: 'k', value: 'v' });
        expectSame({ offsetDelta: 0, timestampDelta: sign * d, key: null, value: null, headers: { a: 'b' } });
      }
    expectSame({ timestampDelta: -0x40000000, key: 'k', value: 'v' });
    for (const size of [63, 64, 8191, 8192, 1_048_576]) expectSame({ key: Buffer.alloc(3, 1), value: Buffer.alloc(size, 7) });
    expectSame({ value: 'é'.repeat(40_000) });
    expectSame({});
  });

  it('leaves what it does not handle to kafkajs: large deltas, Longs as strings, other types (the same bytes or the same error)', () => {
    const cases: RecordArgs[] = [
      { timestampDelta: 0x40000000, key: 'k', value: 'v' },
      { timestampDelta: 2 ** 40, key: 'k', value: 'v' },
      { timestampDelta: -(2 ** 40), key: 'k', value: 'v' },
      { timestampDelta: '12345', key: 'k', value: 'v' },
      { offsetDelta: 1.5, key: 'k', value: 'v' },
      { key: 42, value: 'v' },
      { key: 'k', value: 7 },
      { key: 'k', value: { not: 'bytes' } },
      { key: 'k', value: 'v', headers: { a: null } },
      { key: 'k', value: 'v', headers: { a: 12 } },
      { key: 'k', value: 'v', headers: { a: ['x', null] } },
      { key: 'k', value: 'v', headers: null },
      { key: 'k', value: 'v', headers: 'h' },
    ];
    for (const args of cases) expectSame(args, false);
  });

  it('hands kafkajs record objects its RecordBatch accepts (a Buffer as buf, the bytes as buffer)', () => {
    const r = direct({ offsetDelta: 1, timestampDelta: 2, key: 'k', value: 'v', headers: { h: 'x' } });
    expect(Buffer.isBuffer(r.buf)).toBe(true);
    expect(r.buffer.equals(original({ offsetDelta: 1, timestampDelta: 2, key: 'k', value: 'v', headers: { h: 'x' } }).buffer)).toBe(true);
  });

  it('is the record encoder of the private copy, wrapped around the original', () => {
    const privateRequire = privateCommonJs(
      new Map(),
      new Map(),
      new Map([[recordFile, (e: unknown) => directRecordEncoder(e as RecordEncoder)]]),
    );
    const wrapped = privateRequire(recordFile) as RecordEncoder;
    expect(wrapped).not.toBe(original);
    expect(outcome(wrapped, { key: 'k', value: 3 })).toEqual(outcome(original, { key: 'k', value: 3 }));
    expect(wrapped({ key: 'k', value: 'v' }).buffer.equals(original({ key: 'k', value: 'v' }).buffer)).toBe(true);
  });

  it('loads only over the record layout it writes (a changed kafkajs fails at load)', () => {
    const source = readFileSync(recordFile, 'utf8');
    expect(checkedRecordEncoderSource(source)).toBe(source);
    expect(() => checkedRecordEncoderSource(source.replace('.writeInt8(0)', '.writeInt8(1)'))).toThrow(/not the record encoder/);
  });
});
