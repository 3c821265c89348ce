/**
 * The fast value decoders (table-driven padding, integer civil-date arithmetic, in-place DECIMAL,
 * Buffer text slices, numeric SET masks) against the straightforward implementations they replaced,
 * kept here as references: random and edge inputs, seeded so a failure reproduces. TIME2 is checked
 * against bytes built from known times by MySQL's storage layout instead (a copy of the decoder's
 * arithmetic would share its mistakes).
 */
import { TextDecoder } from 'node:util';
import { ColumnType, type ColumnDef } from '../../src/cdc/binlog/decoder/column-types.js';
import { decodeDecimal } from '../../src/cdc/binlog/decoder/decimal-binary.js';
import {
  decodeDate,
  decodeDatetime2,
  decodeTime2,
  formatPackedDatetime,
  formatTimestamp,
  readTimestamp2,
} from '../../src/cdc/binlog/decoder/temporal.js';
import { TimestampValue, decodeText, valueDecoder, type BinlogValue } from '../../src/cdc/binlog/decoder/values.js';
import { compileTable, decodeRows } from '../../src/cdc/binlog/decoder/rows.js';
import { canonicalRow } from '../../src/cdc/binlog/decoder/canonical-json.js';
import { prng } from '../support/prng.js';

const rand = prng(0x5eed);
const int = (n: number) => Math.floor(rand() * n);
const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));

/**
 * Compares `actual` with `expected` over many cases and reports the first few differences
 * (one expect per case would make these checks slow).
 */
class Mismatches {
  readonly found: unknown[] = [];
  check(input: unknown, actual: unknown, expected: unknown): void {
    if (actual !== expected && this.found.length < 5) this.found.push({ input, actual, expected });
  }
}

// ---- reference implementations (the decoder as it was before the fast paths) ----

const pad = (n: number, w: number) => String(n).padStart(w, '0');
const refFraction = (micros: number, fsp: number) => (fsp > 0 ? `.${pad(micros, 6).slice(0, fsp)}` : '');
const fspBytes = (fsp: number) => Math.floor((fsp + 1) / 2);

function refReadFrac(buf: Buffer, offset: number, fsp: number, signed: boolean): number {
  switch (fspBytes(fsp)) {
    case 0:
      return 0;
    case 1:
      return (signed ? buf.readInt8(offset) : buf.readUInt8(offset)) * 10000;
    case 2:
      return (signed ? buf.readInt16BE(offset) : buf.readUInt16BE(offset)) * 100;
    default:
      return signed ? buf.readIntBE(offset, 3) : buf.readUIntBE(offset, 3);
  }
}

function refPacked(packedIn: bigint, kind: 'date' | 'datetime' | 'time'): string {
  let packed = packedIn;
  const negative = packed < 0n;
  if (negative) packed = -packed;
  const intPart = Number(packed >> 24n);
  const micros = Number(packed % (1n << 24n));
  if (kind === 'time') {
    const hour = Math.floor(intPart / 4096) % 1024;
    const minute = Math.floor(intPart / 64) % 64;
    const second = intPart % 64;
    return `${negative ? '-' : ''}${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}.${pad(micros, 6)}`;
  }
  const ymd = Math.floor(intPart / 2 ** 17);
  const ym = Math.floor(ymd / 32);
  const hms = intPart % 2 ** 17;
  const date = `${pad(Math.floor(ym / 13), 4)}-${pad(ym % 13, 2)}-${pad(ymd % 32, 2)}`;
  if (kind === 'date') return date;
  return `${date} ${pad(Math.floor(hms / 4096), 2)}:${pad(Math.floor(hms / 64) % 64, 2)}:${pad(hms % 64, 2)}.${pad(micros, 6)}`;
}

function refDatetime2(buf: Buffer, offset: number, fsp: number): string {
  const intpart = buf.readUIntBE(offset, 5) - 0x8000000000;
  const frac = refReadFrac(buf, offset + 5, fsp, true);
  if (intpart < 0 || frac < 0) {
    const text = refPacked((BigInt(intpart) << 24n) + BigInt(frac), 'datetime');
    return fsp > 0 ? text.slice(0, text.length - 6 + fsp) : text.slice(0, text.length - 7);
  }
  const ymd = Math.floor(intpart / 2 ** 17);
  const ym = Math.floor(ymd / 32);
  const hms = intpart % 2 ** 17;
  return `${pad(Math.floor(ym / 13), 4)}-${pad(ym % 13, 2)}-${pad(ymd % 32, 2)} ${pad(Math.floor(hms / 4096), 2)}:${pad(Math.floor(hms / 64) % 64, 2)}:${pad(hms % 64, 2)}${refFraction(frac, fsp)}`;
}

function refTimestamp(seconds: number, micros: number, fsp: number): string {
  if (seconds === 0 && micros === 0) return `0000-00-00 00:00:00${refFraction(0, fsp)}`;
  const d = new Date(seconds * 1000);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)} ${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}${refFraction(micros, fsp)}`;
}

function refDate(buf: Buffer, offset: number): string {
  const v = buf.readUIntLE(offset, 3);
  return `${pad(v >> 9, 4)}-${pad((v >> 5) & 15, 2)}-${pad(v & 31, 2)}`;
}

const DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
const refDecimalSize = (p: number, s: number) =>
  Math.floor((p - s) / 9) * 4 + DIG2BYTES[(p - s) % 9]! + Math.floor(s / 9) * 4 + DIG2BYTES[s % 9]!;

function refDecimal(buf: Buffer, offset: number, precision: number, scale: number): string {
  const b = Buffer.from(buf.subarray(offset, offset + refDecimalSize(precision, scale)));
  const negative = (b[0]! & 0x80) === 0;
  b[0]! ^= 0x80;
  if (negative) for (let i = 0; i < b.length; i++) b[i] = b[i]! ^ 0xff;
  const intg = precision - scale;
  let pos = 0;
  const take = (n: number) => {
    const v = n === 0 ? 0 : b.readUIntBE(pos, n);
    pos += n;
    return v;
  };
  let int = '';
  if (intg % 9 > 0) int += String(take(DIG2BYTES[intg % 9]!));
  for (let i = 0; i < Math.floor(intg / 9); i++) {
    const v = String(take(4));
    int += int === '' ? v : v.padStart(9, '0');
  }
  int = int.replace(/^0+/, '') || '0';
  let frac = '';
  for (let i = 0; i < Math.floor(scale / 9); i++) frac += String(take(4)).padStart(9, '0');
  if (scale % 9 > 0) frac += String(take(DIG2BYTES[scale % 9]!)).padStart(scale % 9, '0');
  return `${negative ? '-' : ''}${int}${scale > 0 ? `.${frac}` : ''}`;
}

// ---- encoders for valid values ----

function datetime2Bytes(y: number, mo: number, d: number, h: number, mi: number, s: number, micros: number, fsp: number): Buffer {
  const b = Buffer.alloc(5 + fspBytes(fsp));
  b.writeUIntBE(((y * 13 + mo) * 32 + d) * 2 ** 17 + h * 4096 + mi * 64 + s + 0x8000000000, 0, 5);
  const n = fspBytes(fsp);
  if (n === 1) b.writeUInt8(Math.floor(micros / 10000), 5);
  else if (n === 2) b.writeUInt16BE(Math.floor(micros / 100), 5);
  else if (n === 3) b.writeUIntBE(micros, 5, 3);
  return b;
}

/** Micros as a column of `fsp` stores them (truncated to its digits). */
const truncated = (micros: number, fsp: number) => micros - (micros % 10 ** (6 - fsp));

// ---- TIME2 from the documented layout, not from the decoder's arithmetic ----
// MySQL stores TIME(fsp) as one big-endian integer of 3 + n bytes (n = ceil(fsp / 2)), offset by
// 2^(8(3+n)-1): sign × (hms × 256^n + the fraction in units of 10^(2n-6) s), where hms packs
// 1 unused bit, 10 bits hour, 6 bits minute, 6 bits second (my_time.cc). The decoder splits
// integer and fraction parts and borrows between them; this model reads the field as one number.

interface Time {
  negative: boolean;
  h: number;
  m: number;
  s: number;
  micros: number;
}

const time2Offset = (n: number) => 1n << BigInt(8 * (3 + n) - 1);
const fracUnit = (n: number) => 10n ** BigInt(6 - 2 * n);

/** The bytes MySQL writes for `t` in a TIME(fsp) column. */
function time2Bytes(t: Time, fsp: number): Buffer {
  const n = fspBytes(fsp);
  const hms = BigInt((t.h << 12) | (t.m << 6) | t.s);
  const magnitude = hms * 256n ** BigInt(n) + BigInt(truncated(t.micros, fsp)) / fracUnit(n);
  const field = time2Offset(n) + (t.negative ? -magnitude : magnitude);
  const b = Buffer.alloc(3 + n);
  for (let i = b.length - 1, v = field; i >= 0; i--, v >>= 8n) b[i] = Number(v & 0xffn);
  return b;
}

/** The fields any 3 + n bytes hold under the layout (hour from its 10 bits, out-of-range parts kept). */
function time2Fields(b: Buffer, fsp: number): Time {
  const n = fspBytes(fsp);
  const value = BigInt(`0x${b.toString('hex')}`) - time2Offset(n);
  const magnitude = value < 0n ? -value : value;
  const hms = Number(magnitude / 256n ** BigInt(n));
  const micros = Number((magnitude % 256n ** BigInt(n)) * fracUnit(n));
  return { negative: value < 0n, h: (hms >> 12) & 0x3ff, m: (hms >> 6) & 0x3f, s: hms & 0x3f, micros };
}

/** MySQL's text of a TIME: [-]hh:mm:ss[.fraction], hours of at least two digits, `fsp` fraction digits. */
const timeText = (t: Time, fsp: number) =>
  `${t.negative ? '-' : ''}${pad(t.h, 2)}:${pad(t.m, 2)}:${pad(t.s, 2)}${fsp > 0 ? `.${pad(t.micros, 6).slice(0, fsp)}` : ''}`;

const EDGE_DATES: [number, number, number][] = [
  [0, 0, 0],
  [0, 1, 1],
  [1000, 1, 1],
  [9999, 12, 31],
  [2000, 2, 29],
  [2024, 2, 29],
  [1900, 2, 28],
  [2100, 2, 28],
  [2100, 3, 1],
  [1970, 1, 1],
  [2038, 1, 19],
  [2106, 2, 7],
  [1999, 12, 31],
  [2024, 0, 0],
  [2024, 12, 0],
  [4, 2, 29],
  [400, 2, 29],
];

describe('temporal text: fast paths equal the reference', () => {
  it('DATETIME2 for edge and random dates, every fsp 0-6', () => {
    for (let fsp = 0; fsp <= 6; fsp++) {
      const cases: Buffer[] = [];
      for (const [y, mo, d] of EDGE_DATES) {
        cases.push(datetime2Bytes(y, mo, d, 0, 0, 0, 0, fsp), datetime2Bytes(y, mo, d, 23, 59, 59, truncated(999_999, fsp), fsp));
      }
      for (let i = 0; i < 20_000; i++) {
        cases.push(datetime2Bytes(int(10_000), int(13), int(32), int(24), int(60), int(60), truncated(int(1_000_000), fsp), fsp));
      }
      // Arbitrary bytes: negative parts, out-of-range fields and fractions.
      for (let i = 0; i < 5_000; i++) cases.push(randomBytes(5 + fspBytes(fsp)));
      const m = new Mismatches();
      for (const b of cases) m.check([b.toString('hex'), fsp], decodeDatetime2(b, 0, fsp), refDatetime2(b, 0, fsp));
      expect(m.found).toEqual([]);
    }
    // Consecutive values sharing the minute (the kept prefix) and then changing it.
    const seq = [
      datetime2Bytes(2024, 1, 1, 10, 17, 1, 5, 6),
      datetime2Bytes(2024, 1, 1, 10, 17, 2, 6, 6),
      datetime2Bytes(2024, 1, 1, 10, 18, 2, 6, 6),
      datetime2Bytes(2024, 1, 1, 10, 17, 2, 6, 6),
    ];
    for (const b of seq) expect(decodeDatetime2(b, 0, 6)).toBe(refDatetime2(b, 0, 6));
  });

  it('TIME2: bytes built from known times by the documented layout decode to their text, every fsp 0-6', () => {
    for (let fsp = 0; fsp <= 6; fsp++) {
      const times: Time[] = [
        { negative: false, h: 0, m: 0, s: 0, micros: 0 },
        { negative: false, h: 838, m: 59, s: 59, micros: 999_999 },
        { negative: true, h: 838, m: 59, s: 59, micros: 999_999 },
        { negative: true, h: 0, m: 0, s: fsp === 0 ? 1 : 0, micros: fsp === 0 ? 0 : 10 ** (6 - fsp) },
        { negative: true, h: 0, m: 0, s: 1, micros: 0 },
        { negative: true, h: 0, m: 0, s: 1, micros: 999_999 },
        { negative: true, h: 1, m: 0, s: 0, micros: 500_000 },
      ];
      for (let i = 0; i < 5_000; i++) times.push({ negative: rand() < 0.5, h: int(839), m: int(60), s: int(60), micros: int(1_000_000) });
      const m = new Mismatches();
      for (const t of times) {
        const stored = { ...t, micros: truncated(t.micros, fsp) };
        const zero = stored.h === 0 && stored.m === 0 && stored.s === 0 && stored.micros === 0;
        const b = time2Bytes(stored, fsp);
        m.check([t, fsp, b.toString('hex')], decodeTime2(b, 0, fsp), timeText({ ...stored, negative: stored.negative && !zero }, fsp));
      }
      expect(m.found).toEqual([]);
    }
  });

  it("TIME2: the on-disk values of MySQL's my_time.cc comments, fsp 4 and 6, the range ends", () => {
    const cases: [string, number, string][] = [
      ['80000000', 2, '00:00:00.00'],
      ['7fffffff', 2, '-00:00:00.01'],
      ['7fffff9d', 2, '-00:00:00.99'],
      ['7fffff00', 2, '-00:00:01.00'],
      ['7ffffeff', 2, '-00:00:01.01'],
      ['7ffffef6', 2, '-00:00:01.10'],
      ['b46efb', 0, '838:59:59'],
      ['4b9105', 0, '-838:59:59'],
      ['7fffffffff', 4, '-00:00:00.0001'],
      ['7ffffeffff', 4, '-00:00:01.0001'],
      ['7ffffef0bdc1', 6, '-00:00:01.999999'],
      ['800001000001', 6, '00:00:01.000001'],
    ];
    for (const [hex, fsp, text] of cases) {
      expect([hex, decodeTime2(Buffer.from(hex, 'hex'), 0, fsp)]).toEqual([hex, text]);
      expect([text, time2Bytes(time2Fields(Buffer.from(hex, 'hex'), fsp), fsp).toString('hex')]).toEqual([text, hex]);
    }
  });

  it('TIME2: arbitrary bytes decode to the fields the layout gives them, every fsp 0-6', () => {
    for (let fsp = 0; fsp <= 6; fsp++) {
      const n = 3 + fspBytes(fsp);
      const cases: Buffer[] = [
        Buffer.alloc(n, 0),
        Buffer.alloc(n, 0xff),
        Buffer.from([0x80, ...Buffer.alloc(n - 1)]),
        Buffer.from([0x7f, ...Buffer.alloc(n - 1, 0xff)]),
      ];
      for (let i = 0; i < 5_000; i++) cases.push(randomBytes(n));
      const m = new Mismatches();
      for (const b of cases) m.check([b.toString('hex'), fsp], decodeTime2(b, 0, fsp), timeText(time2Fields(b, fsp), fsp));
      expect(m.found).toEqual([]);
    }
  });

  it('TIMESTAMP: civil-from-days equals Date for edge and random seconds, every fsp 0-6', () => {
    const leapDay = (y: number) => Date.UTC(y, 1, 29) / 1000;
    const edges = [
      0,
      1,
      59,
      60,
      86_399,
      86_400,
      951_782_400,
      leapDay(2000),
      leapDay(2024),
      leapDay(2096),
      Date.UTC(2100, 1, 28) / 1000,
      Date.UTC(2100, 2, 1) / 1000,
      2_147_483_647,
      2_147_483_648,
      4_294_967_295,
      946_684_799,
      946_684_800,
      4_102_444_800,
      253_402_300_799,
      8_640_000_000_000,
    ];
    const seconds = [...edges, ...edges.map((s) => s + 86_399).filter((s) => s <= 8_640_000_000_000)];
    for (let i = 0; i < 30_000; i++) seconds.push(int(2 ** 32));
    for (let i = 0; i < 5_000; i++) seconds.push(int(8_640_000_000_001));
    // Not a server's TIMESTAMP, but the function is exported: negative, fractional, out of Date's range.
    seconds.push(-1, -86_400, -62_167_219_200, 1.5, 8_640_000_000_001, Number.NaN);
    const m = new Mismatches();
    for (const s of seconds) {
      for (let fsp = 0; fsp <= 6; fsp++) {
        const micros = rand() < 0.1 ? 0 : truncated(int(1_000_000), fsp);
        m.check([s, micros, fsp], formatTimestamp(s, micros, fsp), refTimestamp(s, micros, fsp));
      }
    }
    expect(m.found).toEqual([]);
    // Fractions no column stores (1-byte fraction 255 → 2550000 µs) print as before.
    for (const micros of [0, 1, 999_999, 1_000_000, 2_550_000, 16_777_215, -1]) {
      for (let fsp = 0; fsp <= 7; fsp++) expect(formatTimestamp(1_700_000_000, micros, fsp)).toBe(refTimestamp(1_700_000_000, micros, fsp));
    }
    // Zero date, and zero seconds with a fraction.
    for (let fsp = 0; fsp <= 6; fsp++) {
      const { seconds: s, micros } = readTimestamp2(Buffer.alloc(7), 0, fsp);
      expect(formatTimestamp(s, micros, fsp)).toBe(`0000-00-00 00:00:00${fsp > 0 ? `.${'0'.repeat(fsp)}` : ''}`);
    }
    expect(formatTimestamp(0, 5, 6)).toBe('1970-01-01 00:00:00.000005');
  });

  it('DATE for every year edge and random bytes', () => {
    const cases: Buffer[] = [];
    for (const [y, m, d] of EDGE_DATES) {
      const b = Buffer.alloc(3);
      b.writeUIntLE((y << 9) | (m << 5) | d, 0, 3);
      cases.push(b);
    }
    for (let i = 0; i < 30_000; i++) cases.push(randomBytes(3));
    const m = new Mismatches();
    for (const b of cases) m.check(b.toString('hex'), decodeDate(b, 0), refDate(b, 0));
    expect(m.found).toEqual([]);
  });

  it('packed DATETIME/TIME (JSON opaque values)', () => {
    const m = new Mismatches();
    for (let i = 0; i < 20_000; i++) {
      const v = BigInt.asIntN(64, randomBytes(8).readBigUInt64LE());
      for (const kind of ['date', 'datetime', 'time'] as const) m.check([v, kind], formatPackedDatetime(v, kind), refPacked(v, kind));
    }
    expect(m.found).toEqual([]);
  });
});

describe('DECIMAL in place equals the copying reference', () => {
  it('for random precision, scale and bytes', () => {
    const m = new Mismatches();
    for (let i = 0; i < 40_000; i++) {
      const precision = 1 + int(65);
      const scale = int(Math.min(30, precision) + 1);
      const size = refDecimalSize(precision, scale);
      const offset = int(4);
      const buf = randomBytes(offset + size + int(3));
      const before = Buffer.from(buf);
      m.check(
        [precision, scale, offset, buf.toString('hex')],
        decodeDecimal(buf, offset, precision, scale),
        refDecimal(buf, offset, precision, scale),
      );
      m.check(['unchanged', buf.toString('hex')], buf.equals(before), true);
    }
    expect(m.found).toEqual([]);
  });

  it('for zero, negative zero and all-nines', () => {
    for (const [p, s] of [
      [1, 0],
      [9, 0],
      [10, 0],
      [18, 9],
      [20, 6],
      [65, 30],
      [30, 30],
      [9, 9],
      [10, 1],
    ] as const) {
      const size = refDecimalSize(p, s);
      const zero = Buffer.alloc(size);
      zero[0] = 0x80;
      const negZero = Buffer.alloc(size, 0xff);
      negZero[0] = 0x7f;
      for (const b of [zero, negZero, Buffer.alloc(size, 0xff), Buffer.alloc(size, 0)])
        expect(decodeDecimal(b, 0, p, s)).toBe(refDecimal(b, 0, p, s));
    }
  });

  it('refuses invalid DECIMAL definitions when a value is decoded, not when the column decoder is built', () => {
    const decode = valueDecoder(column({ type: ColumnType.NEWDECIMAL, precision: 70, scale: 2 }));
    const buf = Buffer.alloc(64, 0x80);
    expect(() => decode({ buf, pos: 0, end: buf.length })).toThrow('invalid DECIMAL(70,2)');
    expect(() => decodeDecimal(buf, 0, 10, 12)).toThrow('invalid DECIMAL(10,12)');
  });
});

function column(o: Partial<ColumnDef> & { type: number }): ColumnDef {
  return {
    index: 0,
    name: 'c',
    realType: o.type,
    meta: 0,
    precision: 0,
    scale: 0,
    nullable: true,
    unsigned: false,
    collation: 0,
    enumValues: null,
    setValues: null,
    ...o,
  };
}

/** Decodes one value of `col` from `bytes` (checking the cursor ends after it). */
function decodeOne(col: ColumnDef, bytes: Buffer): BinlogValue {
  const buf = Buffer.concat([Buffer.from([0xaa]), bytes, Buffer.from([0xbb])]);
  const c = { buf, pos: 1, end: buf.length - 1 };
  const v = valueDecoder(col)(c);
  if (c.pos !== c.end) throw new Error(`cursor at ${c.pos}, value ends at ${c.end}`);
  return v;
}

const varchar = (collation: number, bytes: Buffer) =>
  decodeOne(
    column({ type: ColumnType.VARCHAR, meta: 1000, collation }),
    Buffer.concat([Buffer.from([bytes.length & 0xff, bytes.length >> 8]), bytes]),
  );
const blob = (collation: number, bytes: Buffer) => {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(bytes.length);
  return decodeOne(column({ type: ColumnType.BLOB, meta: 4, collation }), Buffer.concat([len, bytes]));
};

describe('text values are lossless', () => {
  const bom = Buffer.from([0xef, 0xbb, 0xbf]);

  it('keeps a leading U+FEFF in utf8mb4, utf8mb3 and unknown-collation values (TextDecoder would drop it as a BOM)', () => {
    for (const collation of [45, 46, 255, 33, 83, 0]) {
      expect(varchar(collation, Buffer.concat([bom, Buffer.from('x')]))).toBe('\ufeffx');
      expect(blob(collation, Buffer.concat([bom, bom]))).toBe('\ufeff\ufeff');
      expect(varchar(collation, bom)).toBe('\ufeff');
    }
    expect(decodeText(Buffer.concat([bom, Buffer.from('label')]), 45)).toBe('\ufefflabel');
  });

  it('decodes UTF-8 as TextDecoder does, invalid sequences included', () => {
    const td = new TextDecoder('utf-8', { ignoreBOM: true });
    const pieces = ['a', 'é', '€', '🙂', '\ufeff'].map((s) => Buffer.from(s));
    const m = new Mismatches();
    for (let i = 0; i < 5_000; i++) {
      const parts: Buffer[] = [];
      for (let k = int(12); k > 0; k--) parts.push(rand() < 0.7 ? pieces[int(pieces.length)]! : randomBytes(1 + int(3)));
      const bytes = Buffer.concat(parts);
      m.check(bytes.toString('hex'), varchar(255, bytes), td.decode(bytes));
    }
    expect(m.found).toEqual([]);
    expect(varchar(255, Buffer.from('eda080', 'hex'))).toBe(td.decode(Buffer.from('eda080', 'hex')));
  });

  it('decodes latin1 (cp1252) with and without bytes 0x80-0x9F', () => {
    const cp1252 = new TextDecoder('windows-1252');
    const m = new Mismatches();
    for (let i = 0; i < 3_000; i++) {
      const bytes = randomBytes(int(40));
      if (rand() < 0.5) for (let k = 0; k < bytes.length; k++) if (bytes[k]! >= 0x80 && bytes[k]! <= 0x9f) bytes[k] = 0x41;
      const expected = [...bytes].map((b) => (b >= 0x80 && b <= 0x9f ? decodeText(Buffer.from([b]), 8) : String.fromCharCode(b))).join('');
      m.check(bytes.toString('hex'), varchar(8, bytes), expected);
      m.check(bytes.toString('hex'), blob(8, bytes), expected);
      if (!bytes.some((b) => b >= 0x80 && b <= 0x9f)) m.check(bytes.toString('hex'), varchar(8, bytes), cp1252.decode(bytes));
    }
    expect(m.found).toEqual([]);
    expect(varchar(8, Buffer.from('e9808c9f', 'hex'))).toBe('é€Œ\u0178');
  });
});

describe('binary values are copies', () => {
  it('of short and long values, BINARY padded, VARBINARY and BLOB not', () => {
    for (const len of [0, 1, 20, 32, 33, 300]) {
      const bytes = randomBytes(len);
      const binaryVarchar = varchar(63, bytes);
      const binaryBlob = blob(63, bytes);
      expect(Buffer.isBuffer(binaryVarchar) && binaryVarchar.equals(bytes)).toBe(true);
      expect(Buffer.isBuffer(binaryBlob) && binaryBlob.equals(bytes)).toBe(true);
    }
    const bin = decodeOne(
      column({ type: ColumnType.STRING, realType: ColumnType.STRING, meta: 8, collation: 63 }),
      Buffer.from([3, 1, 2, 3]),
    );
    expect(bin).toEqual(Buffer.from([1, 2, 3, 0, 0, 0, 0, 0]));
  });

  it('do not share memory with the event buffer', () => {
    const buf = Buffer.from([5, 1, 2, 3, 4, 5]);
    const value = valueDecoder(column({ type: ColumnType.BLOB, meta: 1, collation: 63 }))({ buf, pos: 0, end: buf.length }) as Buffer;
    buf.fill(0);
    expect(value).toEqual(Buffer.from([1, 2, 3, 4, 5]));
    const geometry = Buffer.concat([Buffer.from([9]), Buffer.from([0xe6, 0x10, 0, 0]), Buffer.from([1, 2, 3, 4, 5])]);
    const g = valueDecoder(column({ type: ColumnType.GEOMETRY, meta: 1 }))({ buf: geometry, pos: 0, end: geometry.length });
    geometry.fill(0);
    expect(g).toMatchObject({ srid: 4326, wkb: Buffer.from([1, 2, 3, 4, 5]) });
  });
});

describe('SET and BIT', () => {
  const labels = Array.from({ length: 32 }, (_, i) => `l${i}`);

  it('numeric masks give the labels the BigInt path gives, each value its own array', () => {
    for (const [count, bytes] of [
      [4, 1],
      [8, 1],
      [9, 2],
      [16, 2],
      [17, 3],
      [24, 3],
      [25, 4],
      [32, 4],
    ] as const) {
      const col = column({ type: ColumnType.STRING, realType: ColumnType.SET, meta: bytes, setValues: labels.slice(0, count) });
      const decode = valueDecoder(col);
      const m = new Mismatches();
      for (let i = 0; i < 2_000; i++) {
        const raw = randomBytes(bytes);
        const bits = raw.readUIntLE(0, bytes);
        const expected = labels
          .slice(0, count)
          .filter((_, k) => (BigInt(bits) >> BigInt(k)) & 1n)
          .join(',');
        const first = decode({ buf: raw, pos: 0, end: bytes }) as string[];
        m.check([count, raw.toString('hex')], first.join(','), expected);
        first.push('mutated');
        m.check([count, raw.toString('hex'), 'again'], (decode({ buf: raw, pos: 0, end: bytes }) as string[]).join(','), expected);
      }
      expect(m.found).toEqual([]);
    }
  });

  it('SETs of more than 32 labels and SETs without labels keep the BigInt path', () => {
    const many = Array.from({ length: 64 }, (_, i) => `m${i}`);
    const raw = Buffer.from('0100000000000080', 'hex');
    expect(
      valueDecoder(column({ type: ColumnType.STRING, realType: ColumnType.SET, meta: 8, setValues: many }))({ buf: raw, pos: 0, end: 8 }),
    ).toEqual(['m0', 'm63']);
    expect(valueDecoder(column({ type: ColumnType.STRING, realType: ColumnType.SET, meta: 8 }))({ buf: raw, pos: 0, end: 8 })).toBe(
      0x8000000000000001n,
    );
    expect(valueDecoder(column({ type: ColumnType.STRING, realType: ColumnType.SET, meta: 1 }))({ buf: raw, pos: 0, end: 8 })).toBe(1n);
  });

  it('BIT(n) is a big-endian bigint for every width', () => {
    for (let bits = 1; bits <= 64; bits++) {
      const bytes = Math.floor((bits + 7) / 8);
      const raw = randomBytes(bytes);
      let expected = 0n;
      for (const b of raw) expected = (expected << 8n) | BigInt(b);
      expect(valueDecoder(column({ type: ColumnType.BIT, meta: bits }))({ buf: raw, pos: 0, end: bytes })).toBe(expected);
    }
  });
});

describe('TimestampValue', () => {
  it('decoded from TIMESTAMP2 and TIMESTAMP: epochMicros as a bigint, text, JSON', () => {
    const ts2 = valueDecoder(column({ type: ColumnType.TIMESTAMP2, meta: 6 }))({
      buf: Buffer.from('65e11a7f00c350', 'hex'),
      pos: 0,
      end: 7,
    });
    expect(ts2).toBeInstanceOf(TimestampValue);
    const v = ts2 as TimestampValue;
    expect(v.epochMicros).toBe(1_709_251_199_050_000n);
    expect(v.text).toBe('2024-02-29 23:59:59.050000');
    expect(JSON.stringify({ v })).toBe('{"v":"2024-02-29 23:59:59.050000"}');
    expect(`${v}`).toBe('2024-02-29 23:59:59.050000');
    const max = valueDecoder(column({ type: ColumnType.TIMESTAMP }))({
      buf: Buffer.from('ffffffff', 'hex'),
      pos: 0,
      end: 4,
    }) as TimestampValue;
    expect(max.epochMicros).toBe(4_294_967_295_000_000n);
    expect(max.text).toBe('2106-02-07 06:28:15');
  });

  it('built from a bigint or from seconds and micros', () => {
    expect(new TimestampValue(123n, 'x').epochMicros).toBe(123n);
    expect(new TimestampValue(1_700_000_000, 'x', 7).epochMicros).toBe(1_700_000_000_000_007n);
    expect(new TimestampValue(9_007_199_254, 'x', 999_999).epochMicros).toBe(9_007_199_254_999_999n);
  });
});

describe('row images built by the per-table object literal', () => {
  const tableWith = (names: string[]) =>
    compileTable({
      tableId: 1,
      database: 'd',
      table: 't',
      hasNames: true,
      primaryKey: [],
      columns: names.map((name, index) => ({ ...column({ type: ColumnType.TINY }), index, name })),
    });
  /** A WRITE_ROWS v2 body (6-byte table id) with the given present bitmap and rows. */
  const body = (width: number, present: number[], rows: Buffer) =>
    Buffer.concat([Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 2, 0, width]), Buffer.from(present), rows]);

  it('keys in column order, NULLs, plain objects; odd names as before', () => {
    const names = ['id', '2', 'constructor', 'a"b\\c', '\u2028', 'toString'];
    const t = tableWith(names);
    const rows = decodeRows(body(6, [0x3f], Buffer.from([0b000100, 1, 2, 4, 5, 6])), 8, 2, 'write', t);
    const row = rows[0]!.after!;
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.entries(row)).toEqual([
      ['2', 2],
      ['id', 1],
      ['constructor', null],
      ['a"b\\c', 4],
      ['\u2028', 5],
      ['toString', 6],
    ]);
  });

  it('wide tables (4096 columns, NULLs in every bitmap byte)', () => {
    const names = Array.from({ length: 4096 }, (_, i) => `c${i}`);
    const t = tableWith(names);
    const nulls = Buffer.alloc(512, 0x81);
    const values = Buffer.from(names.map((_, i) => i % 127).filter((_, i) => i % 8 !== 0 && i % 8 !== 7));
    const widthBytes = Buffer.from([0xfc, 0x00, 0x10]);
    const b = Buffer.concat([Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 2, 0]), widthBytes, Buffer.alloc(512, 0xff), nulls, values]);
    const row = decodeRows(b, 8, 2, 'write', t)[0]!.after!;
    expect(Object.keys(row)).toEqual(names);
    names.forEach((n, i) => expect([n, row[n]]).toEqual([n, i % 8 === 0 || i % 8 === 7 ? null : i % 127]));
  });

  it('a column named __proto__ is an own column of the image, never its prototype', () => {
    const proto = tableWith(['id', '__proto__']);
    const row = decodeRows(body(2, [0x03], Buffer.from([0, 1, 2])), 8, 2, 'write', proto)[0]!.after!;
    expect(row['id']).toBe(1);
    expect(Object.entries(row)).toEqual([
      ['id', 1],
      ['__proto__', 2],
    ]);
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    const nullProto = decodeRows(body(2, [0x03], Buffer.from([0b10, 1])), 8, 2, 'write', proto)[0]!.after!;
    expect(Object.entries(nullProto)).toEqual([
      ['id', 1],
      ['__proto__', null],
    ]);
    expect(Object.getPrototypeOf(nullProto)).toBe(Object.prototype);
    const partialProto = decodeRows(body(2, [0x02], Buffer.from([0, 9])), 8, 2, 'write', proto)[0]!.after!;
    expect(Object.entries(partialProto)).toEqual([['__proto__', 9]]);
    expect(canonicalRow(row)).toEqual(JSON.parse('{"id": 1, "__proto__": 2}'));
    expect(Object.keys(canonicalRow(nullProto)!)).toEqual(['id', '__proto__']);
  });

  it('images without every column take the key-by-key path', () => {
    const minimal = tableWith(['id', 'a', 'b']);
    const partial = decodeRows(body(3, [0x05], Buffer.from([0b10, 7])), 8, 2, 'write', minimal)[0]!.after!;
    expect(Object.entries(partial)).toEqual([
      ['id', 7],
      ['b', null],
    ]);
  });
});
