import { MysqlGtidSet } from '../../src/gtid/index.js';
import { readChunk } from '../../src/cdc/snapshot/chunk-reader.js';
import { chunkQuery, keysetPredicate } from '../../src/cdc/snapshot/chunk-query.js';
import { RecentTransactions } from '../../src/cdc/snapshot/recent-transactions.js';
import { throttledChunkRows } from '../../src/cdc/snapshot/snapshot-feed.js';
import { float32Shortest, selectValue } from '../../src/cdc/snapshot/select-values.js';
import { snapshotEventEncoder } from '../../src/cdc/snapshot/snapshot-event.js';
import type { ChangeSource } from '../../src/cdc/events/change-event.js';
import { ChunkWindow, changedAfterRead, streamPassed, type ObservedTransaction } from '../../src/cdc/snapshot/snapshot-window.js';
import { isShardlineError } from '../../src/errors/index.js';
import type { RawField, RawRowSession, RawRows } from '../../src/net/index.js';

const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const keys = (table: string, ...ids: string[]) => new Map([[table, new Set(ids)]]);
const txn = (gtid: string | null, pos: number, at: number, ...ids: string[]): ObservedTransaction => ({
  gtid,
  end: { file: 'binlog.000003', pos },
  at,
  keys: keys('app_00.users_0000', ...ids),
});

describe('snapshot chunk SQL', () => {
  it('reads the first chunk in primary-key order with a literal limit and no values', () => {
    const q = chunkQuery(
      {
        database: 'app_00',
        table: 'users_0000',
        columns: [
          { name: 'uid', float32: false },
          { name: 'f', float32: true },
        ],
        primaryKey: ['uid'],
      },
      null,
      100,
    );
    expect(q).toEqual({ sql: 'SELECT `uid`, (`f` + 0e0) AS `f` FROM `app_00`.`users_0000` ORDER BY `uid` LIMIT 100', params: [] });
  });

  it('continues after the last key with an expanded keyset predicate over a composite key, values bound', () => {
    expect(keysetPredicate(['a', 'b', 'c'], [1, 'x', 3])).toEqual({
      sql: '(`a` > ? OR (`a` = ? AND `b` > ?) OR (`a` = ? AND `b` = ? AND `c` > ?))',
      params: [1, 1, 'x', 1, 'x', 3],
    });
    const q = chunkQuery({ database: 'd', table: 't', columns: [{ name: 'a', float32: false }], primaryKey: ['a'] }, ["1' OR '1'='1"], 5);
    expect(q.sql).toBe('SELECT `a` FROM `d`.`t` WHERE `a` > ? ORDER BY `a` LIMIT 5');
    expect(q.params).toEqual(["1' OR '1'='1"]);
  });

  it('quotes identifiers with backticks doubled and refuses what it cannot chunk', () => {
    const q = chunkQuery({ database: 'd`b', table: 't`', columns: [{ name: 'we`ird', float32: false }], primaryKey: ['we`ird'] }, null, 1);
    expect(q.sql).toBe('SELECT `we``ird` FROM `d``b`.`t``` ORDER BY `we``ird` LIMIT 1');
    for (const bad of [
      () => chunkQuery({ database: 'd', table: 't', columns: [], primaryKey: [] }, null, 1),
      () => chunkQuery({ database: 'd', table: 't', columns: [], primaryKey: ['a'] }, [1, 2], 1),
      () => chunkQuery({ database: 'd', table: 't', columns: [], primaryKey: ['a'] }, null, 0),
      () => chunkQuery({ database: 'd', table: 't', columns: [], primaryKey: ['a'] }, null, 1.5),
    ]) {
      let err: unknown;
      try {
        bad();
      } catch (e) {
        err = e;
      }
      expect(isShardlineError(err) && err.code === 'SNAPSHOT_TABLE').toBe(true);
    }
  });
});

describe('snapshot values from SELECT bytes', () => {
  const f = (type: number, charset = 45) => ({ name: 'c', type, charset });
  it.each<[number, number, string | Buffer, unknown]>([
    [3, 45, '-2147483648', -2147483648],
    [8, 45, '18446744073709551615', '18446744073709551615'],
    [8, 45, '-0009', '-9'],
    [246, 45, '-0.001', '-0.001'],
    [13, 45, '0000', 0],
    [12, 45, '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00.000000'],
    [11, 45, '-838:59:59', '-838:59:59'],
    [253, 45, 'a😀b', 'a😀b'],
    [253, 63, Buffer.from([0, 255]), 'AP8='],
    [254, 63, Buffer.from([1, 2, 0, 0]), 'AQIAAA=='],
    [245, 63, '{"a": 1}', '{"a": 1}'],
    [242, 63, Buffer.from([0, 0, 128, 63]), 'AACAPw=='],
  ])('type %i (collation %i) %p', (type, charset, raw, expected) => {
    expect(selectValue(Buffer.isBuffer(raw) ? raw : Buffer.from(raw), f(type, charset))).toEqual(expected);
  });

  it('turns BIT bytes into the unsigned big-endian integer and GEOMETRY into srid + wkb', () => {
    expect(selectValue(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), f(16, 63))).toBe('18446744073709551615');
    expect(selectValue(Buffer.from([1]), f(16, 63))).toBe('1');
    const wkb = Buffer.from('0101000000000000000000f03f0000000000000040', 'hex');
    expect(selectValue(Buffer.concat([Buffer.from([0xe6, 0x10, 0, 0]), wkb]), f(255, 63))).toEqual({
      srid: 4326,
      wkb: wkb.toString('base64'),
    });
  });

  it('gives FLOAT the shortest decimal of the stored float32 (read widened as a DOUBLE)', () => {
    // 123456.789 stored as float32 is 123456.7890625; the shortest decimal that reads back is 123456.79.
    expect(selectValue(Buffer.from('123456.7890625'), f(5, 63), true)).toBe(123456.79);
    expect(selectValue(Buffer.from('0.10000000149011612'), f(5, 63), true)).toBe(0.1);
    expect(selectValue(Buffer.from('0.10000000149011612'), f(5, 63), false)).toBe(0.10000000149011612);
    expect(float32Shortest(3.4028234663852886e38)).toBe(3.4028235e38);
    expect(Math.fround(float32Shortest(16777217))).toBe(16777216);
  });

  it.each<[number, number, string, unknown]>([
    [3, 63, '-2147483648', -2147483648],
    [8, 63, '18446744073709551615', '18446744073709551615'],
    [8, 63, '-9223372036854775808', '-9223372036854775808'],
    [8, 63, '0', '0'],
    [8, 63, '00000000000000000042', '42'],
    [8, 63, '-0009', '-9'],
    [5, 63, '0.1', 0.1],
    [5, 63, '1.7976931348623157e308', 1.7976931348623157e308],
    [246, 63, '-0.001', '-0.001'],
    [12, 63, '2024-01-01 00:00:00.000001', '2024-01-01 00:00:00.000001'],
    [245, 63, '{"a": "é"}', '{"a": "é"}'],
    [253, 45, 'a😀"b', 'a😀"b'],
  ])('type %i (collation %i) as text %p, as the raw row session gives it', (type, charset, raw, expected) => {
    expect(selectValue(raw, f(type, charset))).toEqual(expected);
    expect(selectValue(Buffer.from(raw), f(type, charset))).toEqual(expected);
  });

  it('refuses text for a value it needs the bytes of', () => {
    let err: unknown;
    try {
      selectValue('AP8=', f(253, 63));
    } catch (e) {
      err = e;
    }
    expect(isShardlineError(err) && err.code === 'SNAPSHOT_VALUE').toBe(true);
  });

  it('keeps NULL and refuses a type it has no form for', () => {
    expect(selectValue(null, f(3))).toBeNull();
    let err: unknown;
    try {
      selectValue(Buffer.from('x'), f(6));
    } catch (e) {
      err = e;
    }
    expect(isShardlineError(err) && err.code === 'SNAPSHOT_VALUE').toBe(true);
  });
});

describe('a chunk read', () => {
  /** A session answering the watermark queries and one SELECT with `result`; records the bound values. */
  const session = (result: RawRows, bound: unknown[][] = []): RawRowSession => ({
    select: (_sql, values = []) => {
      bound.push([...values]);
      return Promise.resolve(result);
    },
    query: <T>(sql: string) =>
      Promise.resolve((sql.includes('gtid_executed') ? [{ executed: `${UUID}:1-5` }] : [{ File: 'binlog.000003', Position: 900 }]) as T[]),
    close: () => Promise.resolve(),
  });
  const field = (name: string, type: number, charset: number, flags = 0): RawField => ({ name, type, charset, flags });
  const table = { database: 'd', table: 't', logical: 't', shard: null };

  it('stores the last key of a numeric primary key as text (the server marks numbers binary) and binds it as text', async () => {
    // BIGINT (8) comes with the binary collation 63; bound as a Buffer it became a hex literal, a huge number: the next chunk was empty.
    const raw: RawRows = {
      fields: [field('id', 8, 63, 2), field('name', 253, 45)],
      rows: [
        [Buffer.from('256'), Buffer.from('a')],
        [Buffer.from('76800'), Buffer.from('b')],
      ],
    };
    const schema = {
      columns: [
        { name: 'id', float32: false },
        { name: 'name', float32: false },
      ],
      primaryKey: ['id'],
      estimatedRows: -1,
    };
    const chunk = await readChunk(session(raw), 'mysql', table, schema, null, 2);
    expect(chunk.last).toEqual([{ s: '76800' }]);
    expect(chunk.rows.map((r) => r.row)).toEqual([
      { id: '256', name: 'a' },
      { id: '76800', name: 'b' },
    ]);
    const bound: unknown[][] = [];
    await readChunk(session({ fields: raw.fields, rows: [] }, bound), 'mysql', table, schema, chunk.last, 2);
    expect(bound).toEqual([['76800']]);
  });

  it('stores the last key of a binary string primary key as base64 and binds its bytes', async () => {
    const raw: RawRows = { fields: [field('k', 253, 63, 2)], rows: [[Buffer.from([0, 255])]] };
    const schema = { columns: [{ name: 'k', float32: false }], primaryKey: ['k'], estimatedRows: -1 };
    const chunk = await readChunk(session(raw), 'mysql', table, schema, null, 5);
    expect(chunk.last).toEqual([{ b: 'AP8=' }]);
    const bound: unknown[][] = [];
    await readChunk(session({ fields: raw.fields, rows: [] }, bound), 'mysql', table, schema, chunk.last, 5);
    expect(bound).toEqual([[Buffer.from([0, 255])]]);
  });
});

describe('snapshot event encoding', () => {
  it('writes each row exactly as JSON.stringify of its change event', () => {
    const source: ChangeSource = {
      instance: 'shard-"0"',
      flavour: 'mysql',
      server_uuid: null,
      server_id: 7,
      db: 'app_00',
      table: 'users_"0000"',
      logical_table: 'users',
      shard: 3,
      gtid: null,
      file: 'binlog.000003',
      pos: 900,
      row: 0,
      ts_us: 1_700_000_000_123_000,
      snapshot: 'initial',
    };
    const encode = snapshotEventEncoder(source, 1_700_000_000_123);
    const rows = [
      { id: '1', name: 'a"b\\c\n', n: 1.5, nothing: null, geo: { srid: 4326, wkb: 'AQ==' } },
      { id: '2', name: '😀 __shardline_snapshot_row__', n: -0, nothing: null, geo: null },
    ];
    rows.forEach((after, row) =>
      expect(encode(after, row + 10, `${9_000_000 + row}`)).toBe(
        JSON.stringify({
          op: 'r',
          before: null,
          after,
          source: { ...source, row: row + 10, version: `${9_000_000 + row}` },
          ts_ms: 1_700_000_000_123,
        }),
      ),
    );
  });
});

describe('the DBLog window of a chunk', () => {
  const executed = MysqlGtidSet.parse(`${UUID}:1-10`);
  const mysql = { flavour: 'mysql' as const, executed, end: { file: 'binlog.000003', pos: 5000 } };
  const mariadb = { flavour: 'mariadb' as const, snapshot: { file: 'binlog.000003', pos: 5000 } };

  it('MySQL: a transaction outside gtid_executed before the read (or anonymous) may be unseen by the chunk', () => {
    expect(changedAfterRead(mysql, { gtid: `${UUID}:10`, end: { file: 'binlog.000003', pos: 9000 } })).toBe(false);
    expect(changedAfterRead(mysql, { gtid: `${UUID}:11`, end: { file: 'binlog.000003', pos: 100 } })).toBe(true);
    expect(changedAfterRead(mysql, { gtid: null, end: { file: 'binlog.000001', pos: 100 } })).toBe(true);
  });

  it('MariaDB: a transaction ending after the consistent snapshot position is unseen; at or before it, seen', () => {
    expect(changedAfterRead(mariadb, { gtid: '0-1-5', end: { file: 'binlog.000003', pos: 5000 } })).toBe(false);
    expect(changedAfterRead(mariadb, { gtid: '0-1-6', end: { file: 'binlog.000003', pos: 5001 } })).toBe(true);
    expect(changedAfterRead(mariadb, { gtid: '0-1-6', end: { file: 'binlog.000004', pos: 4 } })).toBe(true);
    expect(changedAfterRead(mariadb, { gtid: '0-1-1', end: { file: 'binlog.000002', pos: 90000 } })).toBe(false);
  });

  it('drops exactly the keys unseen transactions changed, of its own table, and is ready once the stream passed the watermark', () => {
    const w = new ChunkWindow('app_00.users_0000', mysql);
    w.observe(txn(`${UUID}:9`, 4000, 0, 'seen'));
    w.observe(txn(`${UUID}:11`, 5100, 0, 'k1', 'k2'));
    w.observe({ gtid: `${UUID}:12`, end: { file: 'binlog.000003', pos: 5200 }, keys: keys('app_00.users_0001', 'k3') });
    expect(['seen', 'k1', 'k2', 'k3'].map((k) => w.drops(k))).toEqual([false, true, true, false]);
    expect(w.droppedKeys).toBe(2);
    expect(w.ready({ file: 'binlog.000003', pos: 4999 })).toBe(false);
    expect(w.ready({ file: 'binlog.000003', pos: 5000 })).toBe(true);
    expect(streamPassed(mariadb, { file: 'binlog.000004', pos: 4 })).toBe(true);
  });
});

describe('recent transactions', () => {
  it('keeps what a chunk read since a time needs, evicts by age and key count, and says when it lost some', () => {
    const r = new RecentTransactions({ maxAgeMs: 100, maxKeys: 3 });
    r.add(txn(null, 1, 0, 'a'));
    r.add(txn(null, 2, 50, 'b'));
    expect([...r.since(0)].map((t) => t.end.pos)).toEqual([1, 2]);
    r.add(txn(null, 3, 150, 'c'));
    expect([...r.since(0)].map((t) => t.end.pos)).toEqual([2, 3]);
    expect(r.complete(0)).toBe(false);
    expect(r.complete(1)).toBe(true);
    r.add(txn(null, 4, 160, 'd', 'e'));
    expect([...r.since(0)].map((t) => t.end.pos)).toEqual([3, 4]);
    expect(r.complete(60)).toBe(true);
    expect(r.complete(50)).toBe(false);
  });

  it('keeps older transactions while a read that began before them is open (keepSince)', () => {
    const r = new RecentTransactions({ maxAgeMs: 10, maxKeys: 1000 });
    r.add(txn(null, 1, 0, 'a'));
    r.add(txn(null, 2, 100, 'b'), 0);
    expect([...r.since(0)].map((t) => t.end.pos)).toEqual([1, 2]);
    r.add(txn(null, 3, 200, 'c'));
    expect([...r.since(0)].map((t) => t.end.pos)).toEqual([3]);
  });
});

describe('throttled chunk size', () => {
  it('keeps chunkRows unthrottled and takes a tenth of a second of rows (at least 64) under a throttle', () => {
    expect(throttledChunkRows(2048, null)).toBe(2048);
    expect(throttledChunkRows(2048, 5000)).toBe(500);
    expect(throttledChunkRows(2048, 100_000)).toBe(2048);
    expect(throttledChunkRows(2048, 100)).toBe(64);
    expect(throttledChunkRows(32, 100)).toBe(32);
  });
});
