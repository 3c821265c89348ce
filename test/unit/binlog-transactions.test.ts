import { BinlogDecoder, TransactionAssembler, type BinlogEvent, type TableMap, type TransactionItem } from '../../src/cdc/binlog/index.js';
import { loadFixture } from '../support/binlog-builders.js';
import { MariadbGtidState, MysqlGtidSet, positionAtOrAfter } from '../../src/cdc/checkpoint/index.js';
import { SchemaHistory, ddlEffect } from '../../src/cdc/schema/index.js';
import { BinlogError, GtidError } from '../../src/errors/index.js';

const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
let pos = 4;
function ev(kind: BinlogEvent['kind'], body: Record<string, unknown>): BinlogEvent {
  const start = pos;
  pos += 100;
  return {
    timestamp: 1700000000,
    eventType: 0,
    serverId: 1,
    eventSize: 100,
    nextPos: pos,
    flags: 0,
    file: 'binlog.000007',
    pos: start,
    kind,
    ...body,
  } as unknown as BinlogEvent;
}
const table: TableMap = { tableId: 1, database: 'app', table: 'users_0001', columns: [], hasNames: true, primaryKey: [] };
const mysqlGtid = (gno: number) =>
  ev('gtid', { flavour: 'mysql', gtid: `${UUID}:${gno}`, commitTimestampUs: 1700000000123456n, anonymous: false });
const query = (sql: string, database = 'app') => ev('query', { database, sql, threadId: 1, executionTime: 0, errorCode: 0 });
const rows = () => ev('rows', { op: 'c', table, rows: [{ before: null, after: { id: 1 } }] });
const xid = () => ev('xid', { xid: 9n });
const types = (items: TransactionItem[]) => items.map((i) => i.type);

function feed(a: TransactionAssembler, events: BinlogEvent[]): TransactionItem[] {
  return events.flatMap((e) => a.accept(e));
}

describe('TransactionAssembler', () => {
  const mysql = () => new TransactionAssembler({ instance: 's0', flavour: 'mysql', serverUuid: UUID, serverId: 1 }, `${UUID}:1-4`);

  it('MySQL: GTID, BEGIN, rows, XID → begin/rows/commit with the checkpoint after the XID', () => {
    const a = mysql();
    const x = xid();
    const items = feed(a, [mysqlGtid(5), query('BEGIN'), ev('table-map', { map: table }), rows(), rows(), x]);
    expect(types(items)).toEqual(['begin', 'rows', 'rows', 'commit']);
    expect(items[0]).toMatchObject({ gtid: `${UUID}:5`, commitUs: 1700000000123456n });
    expect(items[3]).toMatchObject({
      type: 'commit',
      gtid: `${UUID}:5`,
      checkpoint: { file: 'binlog.000007', pos: x.nextPos, gtidSet: `${UUID}:1-5`, serverUuid: UUID, instance: 's0' },
    });
    expect(a.inTransaction).toBe(false);
  });

  it('a DDL statement is a transaction of its own; COMMIT queries close transactions too', () => {
    const a = mysql();
    const items = feed(a, [mysqlGtid(5), query('ALTER TABLE t ADD c INT'), mysqlGtid(6), query('BEGIN'), rows(), query('COMMIT')]);
    expect(types(items)).toEqual(['begin', 'query', 'commit', 'begin', 'rows', 'commit']);
    expect(items[5]).toMatchObject({ checkpoint: { gtidSet: `${UUID}:1-6` } });
  });

  it('MariaDB: the GTID event begins the transaction; standalone GTIDs carry one DDL', () => {
    const a = new TransactionAssembler({ instance: 's2', flavour: 'mariadb', serverUuid: null, serverId: 3 }, '0-3-10,1-3-4');
    const g = (seq: number, standalone: boolean) =>
      ev('gtid', { flavour: 'mariadb', gtid: `0-3-${seq}`, domainId: 0, serverId: 3, sequence: BigInt(seq), standalone });
    const items = feed(a, [g(11, false), rows(), xid(), g(12, true), query('CREATE TABLE x (a INT)')]);
    expect(types(items)).toEqual(['begin', 'rows', 'commit', 'begin', 'query', 'commit']);
    expect(items[5]).toMatchObject({ gtid: '0-3-12', checkpoint: { gtidSet: '0-3-12,1-3-4' } });
  });

  it('learns the GTID set at the next file when started at a plain position', () => {
    const a = new TransactionAssembler({ instance: 's0', flavour: 'mysql', serverUuid: UUID, serverId: 1 }, null);
    const first = feed(a, [mysqlGtid(8), query('BEGIN'), rows(), xid()]);
    expect(first[2]).toMatchObject({ checkpoint: { gtidSet: null } });
    const next = feed(a, [ev('previous-gtids', { gtidSet: `${UUID}:1-8` }), mysqlGtid(9), query('BEGIN'), rows(), xid()]);
    expect(next[2]).toMatchObject({ checkpoint: { gtidSet: `${UUID}:1-9` } });
  });

  it('rejects broken transaction structure with a typed error naming the position', () => {
    expect(() => feed(mysql(), [rows()])).toThrow(BinlogError);
    expect(() => feed(mysql(), [xid()])).toThrow(/XID without an open transaction/);
    expect(() => feed(mysql(), [mysqlGtid(5), query('BEGIN'), mysqlGtid(6)])).toThrow(/inside the open transaction/);
    try {
      feed(mysql(), [query('COMMIT')]);
    } catch (err) {
      expect(err).toMatchObject({ code: 'BINLOG_DECODE', file: 'binlog.000007' });
    }
  });

  it('reset() forgets a transaction left open by a dropped connection', () => {
    const a = mysql();
    feed(a, [mysqlGtid(5), query('BEGIN'), rows()]);
    expect(a.inTransaction).toBe(true);
    a.reset();
    expect(types(feed(a, [mysqlGtid(5), query('BEGIN'), rows(), xid()]))).toEqual(['begin', 'rows', 'commit']);
  });
});

describe('GTID sets', () => {
  it('MySQL: merges intervals, keeps tags apart, prints like the server', () => {
    const s = MysqlGtidSet.parse(`${UUID}:1-3:7, 0b7e2d0c-0000-0000-0000-000000000001:5`);
    s.add(`${UUID}:4`);
    s.add(`${UUID}:6`);
    s.add(`${UUID}:blue:1`);
    expect(s.toString()).toBe(`0b7e2d0c-0000-0000-0000-000000000001:5,${UUID}:1-4:6-7:blue:1`);
    expect(s.has(`${UUID}:5`)).toBe(false);
    expect(s.has(`${UUID}:7`)).toBe(true);
    expect(s.has(`${UUID}:blue:1`)).toBe(true);
    const u = MysqlGtidSet.parse(`${UUID}:5`);
    u.union(s);
    expect(u.toString()).toBe(`0b7e2d0c-0000-0000-0000-000000000001:5,${UUID}:1-7:blue:1`);
    expect(() => MysqlGtidSet.parse('nope:1')).toThrow(GtidError);
    expect(() => MysqlGtidSet.parse(`${UUID}:5-3`)).toThrow(GtidError);
  });

  it('MariaDB: one position per domain; fill keeps newer positions', () => {
    const s = MariadbGtidState.parse('1-2-7,0-1-42');
    s.add('0-1-43');
    expect(s.toString()).toBe('0-1-43,1-2-7');
    s.fill(MariadbGtidState.parse('0-1-40,2-5-1'));
    expect(s.toString()).toBe('0-1-43,1-2-7,2-5-1');
    expect(() => MariadbGtidState.parse('0-1')).toThrow(GtidError);
  });

  it('orders positions across files by their number', () => {
    expect(positionAtOrAfter({ file: 'b.000010', pos: 4 }, { file: 'b.000009', pos: 9000 })).toBe(true);
    expect(positionAtOrAfter({ file: 'b.000009', pos: 4 }, { file: 'b.000009', pos: 5 })).toBe(false);
  });
});

describe('schema history', () => {
  const col = (name: string, type = 3) => ({
    index: 0,
    name,
    type,
    realType: type,
    meta: 0,
    precision: 0,
    scale: 0,
    nullable: true,
    unsigned: false,
    collation: 0,
    enumValues: null,
    setValues: null,
  });
  const map = (cols: string[], t = 'users_0001', hasNames = true): TableMap => ({
    ...table,
    table: t,
    columns: cols.map((c) => col(c)),
    hasNames,
  });
  const at = { file: 'binlog.000003', pos: 1234 };

  it('accepts a changed layout only after DDL on that table', () => {
    const h = new SchemaHistory();
    h.tableMap(map(['id', 'a']), at);
    h.tableMap(map(['id', 'a']), at);
    expect(() => h.tableMap(map(['id', 'a', 'b']), at)).toThrow(/disagrees with its schema known since binlog.000003:1234/);
    h.query('ALTER TABLE `users_0001` ADD COLUMN b INT', 'app');
    h.tableMap(map(['id', 'a', 'b']), at);
    h.query('ALTER TABLE other.users_0001 DROP COLUMN b', 'app');
    expect(() => h.tableMap(map(['id', 'a']), at)).toThrow(BinlogError);
    h.query('DROP DATABASE app', 'x');
    h.tableMap(map(['id']), at);
  });

  it('refuses a TABLE_MAP without column names', () => {
    expect(() => new SchemaHistory().tableMap(map(['id'], 't', false), at)).toThrow(/binlog_row_metadata was not FULL/);
  });

  it('reads which tables a statement changes, conservatively', () => {
    expect(ddlEffect('BEGIN', 'app')).toEqual({ kind: 'none' });
    expect(ddlEffect("GRANT SELECT ON *.* TO 'x'", 'app')).toEqual({ kind: 'none' });
    expect(ddlEffect('RENAME TABLE a TO b, c.d TO c.e', 'app')).toEqual({
      kind: 'tables',
      tables: [
        { database: 'app', table: 'a' },
        { database: 'app', table: 'b' },
        { database: 'c', table: 'd' },
        { database: 'c', table: 'e' },
      ],
    });
    expect(ddlEffect('CREATE TABLE IF NOT EXISTS `we``ird` (a INT)', 'app')).toEqual({
      kind: 'tables',
      tables: [{ database: 'app', table: 'we`ird' }],
    });
    expect(ddlEffect('/* comment */ DROP TABLE x', 'app')).toMatchObject({ kind: 'tables' });
    expect(ddlEffect('CREATE DATABASE shop', 'app')).toEqual({ kind: 'database', database: 'shop' });
    expect(ddlEffect('CREATE INDEX i ON t (a)', 'app')).toEqual({ kind: 'unknown' });
  });
});

describe('PREVIOUS_GTIDS', () => {
  const event = (bodyHex: string) => {
    const body = Buffer.from(bodyHex, 'hex');
    const h = Buffer.alloc(19);
    h.writeUInt32LE(1700000000, 0);
    h[4] = 35;
    h.writeUInt32LE(1, 5);
    h.writeUInt32LE(19 + body.length, 9);
    h.writeUInt32LE(127 + 19 + body.length, 13);
    return Buffer.concat([h, body]);
  };

  it('decodes the tagged format of MySQL 8.4+ (bytes from a 9.7 server)', () => {
    const hex =
      '0103000000000001' +
      '3f4e5c01ea0511f1a83102fc00000001' +
      '00' +
      '0100000000000000' +
      '0100000000000000f44b000000000000' +
      '3f4e5c01ea0511f1a83102fc00000001' +
      '0a6d79746167' +
      '0100000000000000' +
      '01000000000000000200000000000000' +
      '3f4e5c01ea0511f1a83102fc00000001' +
      '1873686172646c696e655f6974' +
      '0100000000000000' +
      '01000000000000000400000000000000';
    const e = new BinlogDecoder({ file: 'binlog.000003', checksum: 'none' }).decode(event(hex));
    expect(e).toMatchObject({ kind: 'previous-gtids', gtidSet: '3f4e5c01-ea05-11f1-a831-02fc00000001:1-19443:mytag:1:shardline_it:1-3' });
  });

  it('decodes the untagged format', () => {
    const hex =
      '0100000000000000' +
      '3f4e5c01ea0511f1a83102fc00000001' +
      '0200000000000000' +
      '01000000000000000600000000000000' +
      '08000000000000000900000000000000';
    const e = new BinlogDecoder({ file: 'binlog.000003', checksum: 'none' }).decode(event(hex));
    expect(e).toMatchObject({ kind: 'previous-gtids', gtidSet: '3f4e5c01-ea05-11f1-a831-02fc00000001:1-5:8' });
  });
});

describe('decoder table filter', () => {
  const fixture = loadFixture('mysql80-partial-json');
  const decodeAll = (includeTable?: (db: string, t: string) => boolean) => {
    const d = new BinlogDecoder({ file: fixture.file, checksum: 'crc32', includeTable });
    d.decode(fixture.fde);
    const out: BinlogEvent[] = [];
    const errors: string[] = [];
    for (const e of fixture.events) {
      try {
        out.push(...d.decodeAll(e));
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    return { out, errors };
  };

  it('does not read the rows of excluded tables, and says so on the event', () => {
    const all = decodeAll();
    const tables = new Set(all.out.flatMap((e) => (e.kind === 'rows' ? [`${e.table.database}.${e.table.table}`] : [])));
    expect(tables.size).toBeGreaterThan(0);
    const none = decodeAll(() => false);
    const rows = none.out.filter((e): e is Extract<BinlogEvent, { kind: 'rows' }> => e.kind === 'rows');
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((e) => e.filtered === true && e.rows.length === 0)).toBe(true);
    expect(none.errors).toEqual([]);
    expect(all.errors.length).toBeGreaterThan(0);
  });
});
