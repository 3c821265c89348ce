import { BinlogDecoder, EventType } from '../../src/cdc/binlog/index.js';
import { BinlogError } from '../../src/errors/index.js';
import {
  FIXTURES,
  event,
  fdeWithoutChecksum,
  innerEvent,
  loadFixture,
  payloadBody,
  queryBody,
  reseal,
  stripChecksum,
  tableMapBody,
  rowsV2Body,
  xidBody,
} from '../support/binlog-builders.js';
import { prng } from '../support/prng.js';

interface Sequence {
  name: string;
  file: string;
  fde: Buffer;
  events: Buffer[];
}

const GTIDS = new Set<number>([EventType.GTID, EventType.ANONYMOUS_GTID, EventType.GTID_TAGGED, EventType.MARIADB_GTID]);

/** A hand-built transaction with checksums: GTID-less BEGIN, TABLE_MAP, WRITE and UPDATE rows, a payload, XID. */
function builtSequence(): Sequence {
  const real = loadFixture('mysql80-compressed');
  const types = [3, 8, 15, 246, 245, 252, 18, 254];
  const meta = Buffer.from([100, 0, 20, 6, 4, 2, 6, 0xfe, 10]);
  const names = Buffer.concat(
    ['id', 'b', 's', 'd', 'j', 't', 'dt', 'c'].map((n) => Buffer.concat([Buffer.from([n.length]), Buffer.from(n)])),
  );
  const optional = Buffer.concat([Buffer.from([1, 1, 0x40, 4, names.length]), names]);
  const row = Buffer.concat([
    Buffer.from([0x00]),
    Buffer.from([1, 0, 0, 0]),
    Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    Buffer.from(['hi'.length]),
    Buffer.from('hi'),
    Buffer.from([0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
    Buffer.from([5, 0, 0, 0, 0x0c, 0x03, 0x61, 0x62, 0x63]),
    Buffer.from([3, 0, 0x61, 0x62, 0x63]),
    Buffer.from([0x99, 0xb2, 0x7a, 0x00, 0x00, 0x01, 0x02, 0x03]),
    Buffer.from([3]),
    Buffer.from('abc'),
  ]);
  const map = event(EventType.TABLE_MAP, tableMapBody(77, 'db', 'tbl', types, meta, optional), { checksum: true });
  const inner = [
    innerEvent(EventType.QUERY, queryBody('db', 'BEGIN')),
    innerEvent(EventType.TABLE_MAP, tableMapBody(77, 'db', 'tbl', types, meta)),
    innerEvent(EventType.WRITE_ROWS_V2, rowsV2Body(77, 8, row)),
    innerEvent(EventType.XID, xidBody(9n)),
  ];
  return {
    name: 'built',
    file: 'binlog.000001',
    fde: real.fde,
    events: [
      event(EventType.QUERY, queryBody('db', 'BEGIN'), { checksum: true }),
      map,
      event(EventType.WRITE_ROWS_V2, rowsV2Body(77, 8, row), { checksum: true }),
      event(EventType.UPDATE_ROWS_V2, rowsV2Body(77, 8, Buffer.concat([row, row]), true), { checksum: true }),
      event(EventType.XID, xidBody(8n), { checksum: true }),
      event(EventType.TRANSACTION_PAYLOAD, payloadBody(inner), { checksum: true }),
      event(EventType.TRANSACTION_PAYLOAD, payloadBody(inner, { compression: 'none' }), { checksum: true }),
    ],
  };
}

function sequences(): Sequence[] {
  return [builtSequence(), ...FIXTURES.map((name) => ({ name, ...loadFixture(name) }))];
}

/** PARTIAL_UPDATE_ROWS under binlog_row_image=MINIMAL: always refused (the after document is not in the binlog). */
function unreconstructible(seq: Sequence, ev: Buffer): boolean {
  return /partial-json$/.test(seq.name) && (ev[4] === EventType.PARTIAL_UPDATE_ROWS || ev[4] === EventType.TRANSACTION_PAYLOAD);
}

const HUGE = [0xffffffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0x40000000];

/** One random mutation: bit flips, truncation, huge length fields, random bytes, packed-integer bombs. */
function mutate(ev: Buffer, rnd: () => number): Buffer {
  const b = Buffer.from(ev);
  const at = () => 19 + Math.floor(rnd() * Math.max(1, b.length - 19));
  switch (Math.floor(rnd() * 6)) {
    case 0:
      for (let i = 0, n = 1 + Math.floor(rnd() * 8); i < n; i++) {
        const p = Math.floor(rnd() * b.length);
        b[p] = b[p]! ^ (1 << Math.floor(rnd() * 8));
      }
      return b;
    case 1:
      return b.subarray(0, Math.floor(rnd() * b.length));
    case 2: {
      const p = Math.min(at(), b.length - 4);
      if (p >= 0) b.writeUInt32LE(HUGE[Math.floor(rnd() * HUGE.length)]!, p);
      return b;
    }
    case 3: {
      const p = at();
      for (let i = p, n = Math.min(b.length, p + 1 + Math.floor(rnd() * 32)); i < n; i++) b[i] = Math.floor(rnd() * 256);
      return b;
    }
    case 4: {
      const p = Math.min(at(), b.length - 9);
      if (p >= 0) Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).copy(b, p);
      return b;
    }
    default: {
      const p = at();
      const extra = Buffer.alloc(1 + Math.floor(rnd() * 64));
      for (let i = 0; i < extra.length; i++) extra[i] = Math.floor(rnd() * 256);
      return Buffer.concat([b.subarray(0, p), extra, b.subarray(p)]);
    }
  }
}

type Mode = 'checksum-resealed' | 'checksum-stale' | 'no-checksum';

const BUDGET_MS = 2000;
const MEMORY_GROWTH = 768 * 1024 * 1024;

/** Decodes one mutated event after the unmutated events of its transaction; returns what happened. */
/** Runs a generator to its end. */
function drain(events: Iterable<unknown>): void {
  for (const ev of events) void ev;
}

function run(seq: Sequence, index: number, mode: Mode, rnd: () => number): 'events' | 'error' {
  const fde = mode === 'no-checksum' ? fdeWithoutChecksum(seq.fde) : seq.fde;
  const prep = (e: Buffer) => (mode === 'no-checksum' ? stripChecksum(e) : e);
  const decoder = new BinlogDecoder({ file: seq.file, checksum: 'none' });
  decoder.decode(fde);
  let start = index;
  while (start > 0 && !GTIDS.has(seq.events[start]![4]!)) start--;
  for (let i = start; i < index; i++) {
    try {
      drain(decoder.decodeAll(prep(seq.events[i]!)));
    } catch (err) {
      if (!(err instanceof BinlogError && unreconstructible(seq, seq.events[i]!))) throw err;
    }
  }
  let target = mutate(prep(seq.events[index]!), rnd);
  if (target.length >= 13 && rnd() < 0.8) target.writeUInt32LE(target.length, 9);
  if (mode === 'checksum-resealed' && target.length >= 23) target = reseal(target);
  try {
    drain(decoder.decodeAll(target));
    return 'events';
  } catch (err) {
    if (!(err instanceof BinlogError)) throw new Error(`${seq.name}#${index} (${mode}) threw ${String(err)}`, { cause: err });
    const cause = err.cause;
    if (
      cause instanceof TypeError ||
      cause instanceof ReferenceError ||
      (cause instanceof RangeError && /allocation failed|Invalid array length|Invalid typed array length/i.test(cause.message))
    ) {
      throw new Error(`${seq.name}#${index} (${mode}): a decoding bug hidden in a BinlogError: ${String(cause)}`, { cause: err });
    }
    return 'error';
  }
}

describe('binlog decoder fuzz', () => {
  const all = sequences();

  it('decodes every unmutated sequence without error, checksum on and off', () => {
    for (const seq of all) {
      for (const strip of [false, true]) {
        const decoder = new BinlogDecoder({ file: seq.file, checksum: 'none' });
        decoder.decode(strip ? fdeWithoutChecksum(seq.fde) : seq.fde);
        for (const e of seq.events) {
          if (unreconstructible(seq, e)) continue;
          drain(decoder.decodeAll(strip ? stripChecksum(e) : e));
        }
      }
    }
  });

  it.each<[Mode, number]>([
    ['checksum-resealed', 0x5eed0001],
    ['no-checksum', 0x5eed0002],
    ['checksum-stale', 0x5eed0003],
  ])('%s: every mutation is a decoded event or a BinlogError, within time and memory (seed %d)', (mode, seed) => {
    const rnd = prng(seed);
    const iterations = mode === 'checksum-stale' ? 1000 : 5000;
    const base = process.memoryUsage();
    const outcomes = { events: 0, error: 0 };
    let slowest = 0;
    for (let i = 0; i < iterations; i++) {
      const seq = all[Math.floor(rnd() * all.length)]!;
      const index = Math.floor(rnd() * seq.events.length);
      const t0 = performance.now();
      outcomes[run(seq, index, mode, rnd)]++;
      const took = performance.now() - t0;
      slowest = Math.max(slowest, took);
      if (took > BUDGET_MS) throw new Error(`${seq.name}#${index} (${mode}, iteration ${i}) took ${Math.round(took)} ms`);
      if (i % 100 === 0) {
        const m = process.memoryUsage();
        expect(m.arrayBuffers - base.arrayBuffers).toBeLessThan(MEMORY_GROWTH);
        expect(m.rss - base.rss).toBeLessThan(MEMORY_GROWTH * 2);
      }
    }
    expect(outcomes.events + outcomes.error).toBe(iterations);
    expect(outcomes.error).toBeGreaterThan(0);
    if (mode !== 'checksum-stale') expect(outcomes.events).toBeGreaterThan(0);
    expect(slowest).toBeLessThan(BUDGET_MS);
  });
});
