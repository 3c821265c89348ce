import { BinlogDecoder, EventType, type BinlogEvent } from '../../src/cdc/binlog/index.js';
import { BinlogError } from '../../src/errors/index.js';
import { applyJsonDiffs, parseJsonText, printJson } from '../../src/cdc/binlog/decoder/json-diff.js';
import { parseTaggedGtid } from '../../src/cdc/binlog/decoder/gtid-tagged.js';
import {
  event,
  innerEvent,
  loadFixture,
  mariadbBlock,
  payloadBody,
  queryBody,
  xidBody,
  type BinlogFixture,
} from '../support/binlog-builders.js';

type Rows = Extract<BinlogEvent, { kind: 'rows' }>;

function decodeFixture(f: BinlogFixture): { events: BinlogEvent[]; errors: BinlogError[] } {
  const decoder = new BinlogDecoder({ file: f.file, checksum: 'none' });
  decoder.decode(f.fde);
  const events: BinlogEvent[] = [];
  const errors: BinlogError[] = [];
  for (const raw of f.events) {
    try {
      for (const ev of decoder.decodeAll(raw)) events.push(ev);
    } catch (err) {
      if (!(err instanceof BinlogError)) throw err;
      errors.push(err);
    }
  }
  return { events, errors };
}

const rowsOf = (events: BinlogEvent[], table: string) => events.filter((e): e is Rows => e.kind === 'rows' && e.table.table === table);

describe('TRANSACTION_PAYLOAD (binlog_transaction_compression), real bytes', () => {
  it.each(['mysql80-compressed', 'mysql97-compressed'])('%s: inner events decode, all at the payload position', (name) => {
    const f = loadFixture(name);
    const payloads = f.events.filter((e) => e[4] === EventType.TRANSACTION_PAYLOAD);
    expect(payloads).toHaveLength(3);
    const { events, errors } = decodeFixture(f);
    expect(errors).toEqual([]);
    const rows = rowsOf(events, 't');
    expect(rows.map((r) => r.op)).toEqual(['c', 'c', 'u', 'd', 'c']);
    expect(rows[0]!.rows[0]!.after).toEqual({
      id: 1,
      j: '{"a": 1, "b": [1, 2, "x"], "big": 18446744073709551615}',
      v: 'héllo',
      d: '-12345678901234.123456',
      b: 18446744073709551615n,
      txt: 'small',
      dt: '2024-02-29 23:59:59.123456',
    });
    expect(rows[1]!.rows[0]!.after!['txt']).toBe('abcdefghij'.repeat(20000));
    expect(rows[2]!.rows[0]!.after).toMatchObject({ v: 'updated', d: '1.500000' });
    expect(rows[3]!.rows[0]!.before).toMatchObject({ id: 2 });
    const first = payloads[0]!;
    const end = first.readUInt32LE(13);
    const inner = events.filter((e) => e.nextPos === end);
    expect(inner.map((e) => e.kind)).toEqual(['query', 'table-map', 'rows', 'table-map', 'rows', 'xid']);
    for (const e of inner) expect(e).toMatchObject({ file: f.file, pos: end - first.length });
  });

  it('decode() alone describes the payload without its events', () => {
    const f = loadFixture('mysql80-compressed');
    const decoder = new BinlogDecoder({ file: f.file, checksum: 'none' });
    decoder.decode(f.fde);
    const payload = decoder.decode(f.events.find((e) => e[4] === EventType.TRANSACTION_PAYLOAD)!);
    expect(payload).toMatchObject({ kind: 'transaction-payload', compression: 'zstd' });
  });

  const decoder = () => new BinlogDecoder({ file: 'binlog.000001', checksum: 'crc32' });
  const inner = [innerEvent(EventType.QUERY, queryBody('d', 'BEGIN')), innerEvent(EventType.XID, xidBody(42n))];

  it('decodes hand-built payloads, zstd and uncompressed', () => {
    for (const compression of ['zstd', 'none'] as const) {
      const ev = event(EventType.TRANSACTION_PAYLOAD, payloadBody(inner, { compression }), { checksum: true, nextPos: 5000 });
      const out = [...decoder().decodeAll(ev)];
      expect(out.map((e) => [e.kind, e.pos, e.nextPos])).toEqual([
        ['query', 5000 - ev.length, 5000],
        ['xid', 5000 - ev.length, 5000],
      ]);
    }
  });

  it('yields inner events lazily', () => {
    const ev = event(EventType.TRANSACTION_PAYLOAD, payloadBody([...inner, Buffer.from('garbage-garbage-garbage')]), { checksum: true });
    const it = decoder().decodeAll(ev);
    expect(it.next().value).toMatchObject({ kind: 'query' });
    expect(it.next().value).toMatchObject({ kind: 'xid' });
    expect(() => it.next()).toThrow(BinlogError);
  });

  it.each([
    ['a nested payload', [innerEvent(EventType.TRANSACTION_PAYLOAD, Buffer.alloc(4))], {}, /contains a TRANSACTION_PAYLOAD/],
    ['a wrong uncompressed size', inner, { uncompressedSize: 10 }, /beyond its declared 10 bytes/],
    ['an absurd uncompressed size', inner, { uncompressedSize: 2 ** 50 }, /declares .* uncompressed bytes/],
    ['a 2 GiB zstd window', inner, { windowLog: 31 }, /zstd window/],
    [
      'an inner event of 4 GB',
      [Buffer.concat([innerEvent(EventType.XID, xidBody(1n)).subarray(0, 9), Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.alloc(10)])],
      {},
      /exceeds/,
    ],
  ])('refuses %s with BINLOG_DECODE', (_what, events, opts, message) => {
    const ev = event(EventType.TRANSACTION_PAYLOAD, payloadBody(events, opts), { checksum: true });
    let caught: unknown;
    try {
      Array.from(decoder().decodeAll(ev));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BinlogError);
    expect((caught as BinlogError).code).toBe('BINLOG_DECODE');
    expect((caught as BinlogError).message).toMatch(message);
  });
});

describe('GTID_TAGGED (MySQL 8.4+), real bytes from 9.7', () => {
  it('decodes uuid, tag and gno; untagged GTIDs keep tag null', () => {
    const { events } = decodeFixture(loadFixture('mysql97-tagged-gtid'));
    const gtids = events.filter(
      (e): e is Extract<BinlogEvent, { kind: 'gtid'; flavour: 'mysql' }> => e.kind === 'gtid' && e.flavour === 'mysql',
    );
    const tagged = gtids.find((g) => g.tag !== null)!;
    expect(tagged).toMatchObject({
      gtid: '3f4e5c01-ea05-11f1-a831-02fc00000001:mytag:1',
      tag: 'mytag',
      gno: 1n,
      sourceUuid: '3f4e5c01-ea05-11f1-a831-02fc00000001',
      anonymous: false,
    });
    expect(tagged.commitTimestampUs).toBeGreaterThan(1_700_000_000_000_000n);
    expect(gtids.filter((g) => g.tag === null).length).toBeGreaterThan(0);
  });

  it('reads every field of the serialized message', () => {
    const f = loadFixture('mysql97-tagged-gtid');
    const raw = f.events.find((e) => e[4] === EventType.GTID_TAGGED)!;
    const g = parseTaggedGtid(raw.subarray(19, raw.length - 4));
    expect(g.uuid.toString('hex')).toBe('3f4e5c01ea0511f1a83102fc00000001');
    expect(g.sequenceNumber).toBeGreaterThan(g.lastCommitted);
    expect(g.transactionLength).toBeGreaterThan(78n);
    expect(g.immediateServerVersion).toBe(90704);
    expect(() => parseTaggedGtid(raw.subarray(19, 40))).toThrow();
  });
});

describe('PARTIAL_UPDATE_ROWS (binlog_row_value_options=PARTIAL_JSON), real bytes', () => {
  it.each(['mysql80-partial-json-full', 'mysql97-partial-json-full'])(
    '%s: diffs applied to the before image give what SELECT shows',
    (name) => {
      const { events, errors } = decodeFixture(loadFixture(name));
      expect(errors).toEqual([]);
      const updates = rowsOf(events, 'pf').filter((e) => e.op === 'u');
      expect(updates).toHaveLength(7);
      const last = new Map<number, Record<string, unknown>>();
      for (const u of updates) for (const r of u.rows) last.set(r.after!['id'] as number, r.after!);
      expect(last.get(1)).toEqual({
        id: 1,
        j: '{"a": 3, "b": [1.5, true, null], "s": "short", "u": "é\\n", "big": 18446744073709551615, "dec": 1.2345678901234567e19, "new": "v", "key with space": -5}',
        k: '[1, 2, 3]',
        n: 8,
      });
      expect(last.get(2)).toEqual({ id: 2, j: '{"b": 2, "x": "y", "aa": 1, "ab": 3}', k: '{"k": ["twenty", 99]}', n: 2 });
      expect(updates[0]!.rows[0]!.after!['j']).toBe(
        '{"a": 2, "b": [1, "two", 3], "c": {"d": "x"}, "s": "long string value that is long enough", "u": "é\\n", "big": 18446744073709551615, "dec": 1.2345678901234567e19, "new": "v", "key with space": -5}',
      );
    },
  );

  it.each(['mysql80-partial-json', 'mysql97-partial-json'])(
    '%s: MINIMAL image has no before document, so decoding stops with a typed error',
    (name) => {
      const { errors } = decodeFixture(loadFixture(name));
      expect(errors.length).toBeGreaterThan(0);
      for (const e of errors) {
        expect(e.code).toBe('BINLOG_DECODE');
        expect(e.message).toMatch(/without its value in the before image.*binlog_row_image=FULL/);
      }
    },
  );
});

describe('MariaDB compressed events (log_bin_compress), real bytes from 10.11', () => {
  it('decodes QUERY_COMPRESSED and WRITE/UPDATE/DELETE_ROWS_COMPRESSED_V1 like their plain forms', () => {
    const f = loadFixture('mariadb-compressed');
    const types = new Set(f.events.map((e) => e[4]));
    for (const t of [165, 166, 167, 168]) expect(types.has(t)).toBe(true);
    const { events, errors } = decodeFixture(f);
    expect(errors).toEqual([]);
    const queries = events.filter((e): e is Extract<BinlogEvent, { kind: 'query' }> => e.kind === 'query').map((q) => q.sql);
    expect(queries).toContain('CREATE TABLE binlog_fixture.mc (id INT PRIMARY KEY, v VARCHAR(200), t LONGTEXT, d DECIMAL(12,3), j JSON)');
    const rows = rowsOf(events, 'mc');
    expect(rows.map((r) => r.op)).toEqual(['c', 'u', 'd', 'c']);
    expect(rows[0]!.rows.map((r) => r.after)).toEqual([
      { id: 1, v: 'héllo wörld', t: 'compress me '.repeat(100), d: '123456789.125', j: '{"a": [1, 2]}' },
      { id: 2, v: null, t: 'x', d: '-0.500', j: null },
    ]);
    expect(rows[1]!.rows[0]!.after).toMatchObject({ v: 'v'.repeat(150), d: '1.000' });
  });

  it('refuses a block that inflates to another length than declared', () => {
    const decoder = new BinlogDecoder({ file: 'mariadb-bin.000001', checksum: 'none' });
    const post = Buffer.alloc(13);
    const ev = event(
      EventType.MARIADB_QUERY_COMPRESSED,
      Buffer.concat([post, Buffer.from([0]), mariadbBlock(Buffer.from('SELECT 1'), 100)]),
    );
    expect(() => decoder.decode(ev)).toThrow(/inflates to 8 bytes, its header says 100/);
    const bomb = event(
      EventType.MARIADB_QUERY_COMPRESSED,
      Buffer.concat([post, Buffer.from([0]), mariadbBlock(Buffer.alloc(1 << 20), 10)]),
    );
    expect(() => decoder.decode(bomb)).toThrow(BinlogError);
  });
});

describe('JSON documents for partial updates', () => {
  it('keeps number literals exact and prints as MySQL', () => {
    const text = '{"a": 18446744073709551615, "b": [1.5, -0.0, 1e300], "c": "x\\"y"}';
    expect(printJson(parseJsonText(text))).toBe(text);
  });

  it('orders keys by length, then bytes, after an insert', () => {
    expect(applyJsonDiffs('{"b": 1, "aa": 2}', [{ operation: 1, path: '$.a', value: '3' }])).toBe('{"a": 3, "b": 1, "aa": 2}');
    expect(applyJsonDiffs('{"é": 1, "z": 2}', [{ operation: 1, path: '$."a b"', value: 'true' }])).toBe('{"z": 2, "é": 1, "a b": true}');
  });

  it('inserts, replaces and removes in arrays and nested objects', () => {
    const doc = '{"a": [1, 2, 3], "o": {"k": null}}';
    expect(applyJsonDiffs(doc, [{ operation: 1, path: '$.a[1]', value: '"x"' }])).toBe('{"a": [1, "x", 2, 3], "o": {"k": null}}');
    expect(applyJsonDiffs(doc, [{ operation: 1, path: '$.a[9]', value: '9' }])).toBe('{"a": [1, 2, 3, 9], "o": {"k": null}}');
    expect(applyJsonDiffs(doc, [{ operation: 0, path: '$.o.k', value: '{"z": []}' }])).toBe('{"a": [1, 2, 3], "o": {"k": {"z": []}}}');
    expect(
      applyJsonDiffs(doc, [
        { operation: 2, path: '$.a[0]', value: null },
        { operation: 2, path: '$.o', value: null },
      ]),
    ).toBe('{"a": [2, 3]}');
    expect(applyJsonDiffs(doc, [{ operation: 0, path: '$', value: '[]' }])).toBe('[]');
  });

  it('refuses diffs that do not fit the document', () => {
    expect(() => applyJsonDiffs('{"a": 1}', [{ operation: 0, path: '$.b', value: '1' }])).toThrow(/no such member/);
    expect(() => applyJsonDiffs('[1]', [{ operation: 2, path: '$[3]', value: null }])).toThrow(/beyond/);
    expect(() => applyJsonDiffs('{"a": 1}', [{ operation: 0, path: '$.a[*]', value: '1' }])).toThrow(/cannot be parsed/);
  });
});
