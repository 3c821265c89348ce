import { serverError } from '../../src/net/index.js';
import {
  addArchivedColumnSql,
  addArchiveColumnSql,
  archiveColumnType,
  archiveParam,
  ArchiveValueError,
  buildUpsert,
  classifyArchiveError,
  createArchiveTableSql,
  groupStatements,
  guardedAssignments,
  keyFromId,
  planTransactions,
  quoteIdent,
  recordRows,
  upsertOutcome,
  type ArchiveRow,
} from '../../src/cdc/sinks/archive/index.js';
import { archiveUnit } from '../../src/cdc/sinks/archive/archive-batches.js';
import type { LogicalColumn, LogicalTableSchema } from '../../src/cdc/schema/logical-columns.js';
import type { SinkRecord } from '../../src/cdc/sinks/sink-record.js';
import type { ChangeEvent } from '../../src/cdc/events/change-event.js';

const col = (name: string, dataType: string, columnType = dataType, charset: string | null = null): LogicalColumn => ({
  name,
  dataType,
  columnType,
  nullable: true,
  charset,
});

const users: LogicalTableSchema = {
  table: 'user',
  columns: [
    col('uid', 'bigint', 'bigint unsigned'),
    col('name', 'varchar', 'varchar(20)', 'utf8mb4'),
    col('score', 'decimal', 'decimal(10,2)'),
  ],
  primaryKey: ['uid'],
};

function record(
  op: ChangeEvent['op'],
  version: bigint,
  before: ChangeEvent['before'],
  after: ChangeEvent['after'],
  id: string,
  previousId: string | null = null,
): SinkRecord {
  return {
    table: 'user',
    id,
    previousId,
    version,
    event: {
      op,
      before,
      after,
      source: {
        instance: 'shard-0',
        flavour: 'mysql',
        server_uuid: null,
        server_id: 1,
        db: 'd',
        table: 'user_0001',
        logical_table: 'user',
        shard: 1,
        gtid: null,
        file: 'binlog.000001',
        pos: 4,
        row: 0,
        ts_us: 0,
        snapshot: 'false',
      },
      ts_ms: 0,
    },
    origin: { topic: 't', partition: 0, offset: '0' },
  };
}

describe('identifiers', () => {
  it('quotes with backticks and doubles backticks inside', () => {
    expect(quoteIdent('user')).toBe('`user`');
    expect(quoteIdent('we`ird')).toBe('`we``ird`');
    expect(quoteIdent('a``b')).toBe('`a````b`');
    expect(() => quoteIdent('')).toThrow(RangeError);
    expect(() => quoteIdent('a\0b')).toThrow(RangeError);
  });
});

describe('archive DDL', () => {
  it('creates the table with source types, nullable non-key columns and the bookkeeping columns', () => {
    const sql = createArchiveTableSql('shardline_archive', users, 'mysql');
    expect(sql).toBe(
      'CREATE TABLE IF NOT EXISTS `shardline_archive`.`user` (\n' +
        '  `uid` bigint unsigned NOT NULL,\n' +
        '  `name` varchar(20) CHARACTER SET utf8mb4 NULL,\n' +
        '  `score` decimal(10,2) NULL,\n' +
        '  `_shard` INT NULL,\n' +
        '  `_version` BIGINT UNSIGNED NOT NULL,\n' +
        '  `_deleted` TINYINT(1) NOT NULL DEFAULT 0,\n' +
        '  `_archived` TINYINT(1) NOT NULL DEFAULT 0,\n' +
        '  `_archived_at` DATETIME(6) NOT NULL,\n' +
        '  PRIMARY KEY (`uid`)\n' +
        ') DEFAULT CHARSET=utf8mb4',
    );
    expect(sql).not.toMatch(/ENGINE|TRIGGER|PROCEDURE/i);
  });

  it('gives text key columns the _bin collation and widens utf8mb3', () => {
    expect(archiveColumnType(col('k', 'varchar', 'varchar(10)', 'utf8mb3'), 'mysql', true)).toBe(
      'varchar(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin',
    );
    expect(archiveColumnType(col('k', 'char', 'char(3)', 'latin1'), 'mysql', false)).toBe('char(3) CHARACTER SET latin1');
    expect(archiveColumnType(col('b', 'varbinary', 'varbinary(8)', 'binary'), 'mysql')).toBe('varbinary(8)');
    expect(archiveColumnType(col('e', 'enum', "enum('a','b''c')", 'utf8mb4'), 'mysql')).toBe("enum('a','b''c') CHARACTER SET utf8mb4");
    // MySQL 8.0 prints a 4-byte character of an ENUM/SET label as '?': the archive keeps the text.
    expect(archiveColumnType(col('e', 'set', "set('a','é?')", 'utf8mb4'), 'mysql')).toBe('varchar(13) CHARACTER SET utf8mb4');
  });

  it('maps types the archive lacks', () => {
    expect(archiveColumnType(col('g', 'point', 'point'), 'mysql')).toBe('point');
    expect(archiveColumnType(col('g', 'geometry', 'geometry'), 'tidb')).toBe('longblob');
    expect(archiveColumnType(col('u', 'uuid', 'uuid'), 'mysql')).toBe('binary(16)');
    expect(archiveColumnType(col('i', 'inet4', 'inet4'), 'mysql')).toBe('binary(4)');
    expect(archiveColumnType(col('v', 'vector', 'vector(3)'), 'mysql')).toBe('varbinary(12)');
  });

  it('adds a missing column as nullable', () => {
    expect(addArchiveColumnSql('a`b', 'user', col('nick', 'varchar', 'varchar(5)', 'utf8mb4'), 'mysql')).toBe(
      'ALTER TABLE `a``b`.`user` ADD COLUMN `nick` varchar(5) CHARACTER SET utf8mb4 NULL',
    );
  });

  it('refuses a table without primary key or with a clashing column', () => {
    expect(() => createArchiveTableSql('db', { ...users, primaryKey: [] }, 'mysql')).toThrow(/no primary key/);
    expect(() => createArchiveTableSql('db', { ...users, columns: [...users.columns, col('_version', 'int')] }, 'mysql')).toThrow(
      /clashes/,
    );
  });
});

describe('guarded upsert', () => {
  it('guards every non-key column by the version and assigns _version last', () => {
    const a = guardedAssignments(['uid', 'name', 'score'], ['uid']);
    const parts = a.split(', `');
    expect(a).not.toContain('`uid` =');
    expect(a.startsWith('`name` = IF(VALUES(`_version`) > `_version`, VALUES(`name`), `name`)')).toBe(true);
    expect(a).toContain('`_deleted` = IF(VALUES(`_version`) > `_version`, VALUES(`_deleted`), `_deleted`)');
    expect(a).toContain('`_archived_at` = IF(VALUES(`_version`) > `_version`, VALUES(`_archived_at`), `_archived_at`)');
    expect(a).toContain('`_archived` = IF(VALUES(`_version`) > `_version`, VALUES(`_archived`), `_archived`)');
    expect(parts[parts.length - 1]).toBe('_version` = GREATEST(`_version`, VALUES(`_version`))');
    expect(a.indexOf('`_version` = ')).toBe(a.lastIndexOf(' = ') - '`_version`'.length);
  });

  it('builds a multi-row statement with bound values only', () => {
    const rows = [
      record('c', 10n, null, { uid: '1', name: "o'brien", score: '1.50' }, '1'),
      record('u', 11n, null, { uid: '2', name: 'x', score: null }, '2'),
    ].flatMap((r) => recordRows(r, users));
    const s = buildUpsert('arch', ['uid'], rows);
    expect(s.sql).toBe(
      'INSERT INTO `arch`.`user` (`uid`, `name`, `score`, `_shard`, `_version`, `_deleted`, `_archived`, `_archived_at`) VALUES (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6)), (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE ' +
        guardedAssignments(['uid', 'name', 'score'], ['uid']),
    );
    expect(s.values).toEqual([1n, "o'brien", '1.50', 1, 10n, 0, 0, 2n, 'x', null, 1, 11n, 0, 0]);
    expect(s.sql).not.toContain('brien');
  });

  it('refuses rows of different shapes in one statement', () => {
    const a = recordRows(record('c', 1n, null, { uid: '1', name: 'a' }, '1'), users);
    const b = recordRows(record('c', 1n, null, { uid: '2', name: 'b', score: '1.00' }, '2'), users);
    expect(() => buildUpsert('arch', ['uid'], [...a, ...b])).toThrow(RangeError);
  });

  it('reads the effect from affected rows and the info text', () => {
    expect(upsertOutcome(1, 0, '')).toEqual({ inserted: 0, updated: 0, stale: 1 });
    expect(upsertOutcome(1, 1, '')).toEqual({ inserted: 1, updated: 0, stale: 0 });
    expect(upsertOutcome(1, 2, '')).toEqual({ inserted: 0, updated: 1, stale: 0 });
    expect(upsertOutcome(4, 5, 'Records: 4  Duplicates: 2  Warnings: 1')).toEqual({ inserted: 1, updated: 2, stale: 1 });
    expect(upsertOutcome(3, 2, 'Records: 3  Duplicates: 0  Warnings: 0')).toEqual({ inserted: 2, updated: 0, stale: 1 });
    expect(upsertOutcome(3, 2, '')).toEqual({ inserted: 0, updated: 0, stale: null });
  });
});

describe('records to rows', () => {
  it('upserts the after image, marks deletes with the before image', () => {
    const [c] = recordRows(record('c', 5n, null, { uid: '7', name: 'a', score: '0.10' }, '7'), users);
    expect(c).toMatchObject({ columns: ['uid', 'name', 'score'], values: [7n, 'a', '0.10'], deleted: false, version: 5n, shard: 1 });
    const [d] = recordRows(record('d', 6n, { uid: '7', name: 'a', score: '0.10' }, null, '7'), users);
    expect(d).toMatchObject({ values: [7n, 'a', '0.10'], deleted: true, version: 6n });
  });

  it('an archival delete keeps the row, marked archived and not deleted; a user delete stays a delete', () => {
    const r = record('d', 6n, { uid: '7', name: 'a', score: '0.10' }, null, '7');
    const [a] = recordRows({ ...r, event: { ...r.event, source: { ...r.event.source, archival: true } } }, users);
    expect(a).toMatchObject({ values: [7n, 'a', '0.10'], deleted: false, archived: true, version: 6n });
    const [d] = recordRows(r, users);
    expect(d).toMatchObject({ deleted: true, archived: false });
    const s = buildUpsert('arch', ['uid'], [a!, d!]);
    expect(s.values).toEqual([7n, 'a', '0.10', 1, 6n, 0, 1, 7n, 'a', '0.10', 1, 6n, 1, 0]);
    expect(addArchivedColumnSql('a', 'user')).toBe(
      'ALTER TABLE `a`.`user` ADD COLUMN `_archived` TINYINT(1) NOT NULL DEFAULT 0 AFTER `_deleted`',
    );
  });

  it('a delete without before image keys the row by its id', () => {
    const [d] = recordRows(record('d', 6n, null, null, '7'), users);
    expect(d).toMatchObject({ columns: ['uid'], values: [7n], deleted: true });
  });

  it('a primary-key change marks the old key deleted and upserts the new one', () => {
    const rows = recordRows(record('u', 9n, { uid: '1', name: 'a', score: null }, { uid: '2', name: 'a', score: null }, '2', '1'), users);
    expect(rows.map((r) => [r.values[0], r.deleted, r.version])).toEqual([
      [1n, true, 9n],
      [2n, false, 9n],
    ]);
  });

  it('keeps a column named __proto__ as a column, in the image and in a key', () => {
    const odd: LogicalTableSchema = {
      table: 'user',
      columns: [col('uid', 'bigint'), col('__proto__', 'varchar', 'varchar(9)', 'utf8mb4')],
      primaryKey: ['uid'],
    };
    const after = JSON.parse('{"UID": "3", "__proto__": "kept"}') as ChangeEvent['after'];
    const [c] = recordRows(record('c', 2n, null, after, '3'), odd);
    expect(c!.columns).toEqual(['uid', '__proto__']);
    expect(c!.values).toEqual([3n, 'kept']);
    expect(Object.entries(keyFromId('["a",1]', ['__proto__', 'y']))).toEqual([
      ['__proto__', 'a'],
      ['y', 1],
    ]);
  });

  it('parses composite keys from the document id', () => {
    expect(keyFromId('["a",1]', ['x', 'y'])).toEqual({ x: 'a', y: 1 });
    expect(keyFromId('a"b', ['x'])).toEqual({ x: 'a"b' });
    expect(() => keyFromId('[1]', ['x', 'y'])).toThrow(ArchiveValueError);
  });

  it('refuses unknown columns and missing images', () => {
    expect(() => recordRows(record('c', 1n, null, { uid: '1', extra: 1 }, '1'), users)).toThrow(/not in the logical schema/);
    expect(() => recordRows(record('u', 1n, null, null, '1'), users)).toThrow(ArchiveValueError);
  });

  it('knows columns per schema object, case-insensitively, however many rows it checked before', () => {
    const upper = { UID: '1', Name: 'a' };
    expect(() => recordRows(record('c', 1n, null, upper, '1'), users)).not.toThrow();
    // a later schema object of the same table with a column more: its own names, not the first one's
    const widened: LogicalTableSchema = { ...users, columns: [...users.columns, { ...users.columns[0]!, name: 'extra' }] };
    for (let i = 0; i < 3; i++) {
      expect(() => recordRows(record('c', 1n, null, { uid: '1', extra: 1 }, '1'), users)).toThrow(/column extra is not/);
      expect(recordRows(record('c', 1n, null, { uid: '1', Extra: 1 }, '1'), widened)[0]!.columns).toContain('uid');
    }
  });

  it('keeps the value of a column whose name differs from the schema only in case (one MySQL column)', () => {
    const [c] = recordRows(record('c', 3n, null, { UID: '7', Name: 'Ann', SCORE: '1.50' }, '7'), users);
    expect(c!.columns).toEqual(['uid', 'name', 'score']);
    expect(c!.values).toEqual([7n, 'Ann', '1.50']);
    const [d] = recordRows(record('d', 4n, { Uid: '7', nAmE: 'Ann' }, null, '7'), users);
    expect(d!.columns).toEqual(['uid', 'name']);
    expect(d!.values).toEqual([7n, 'Ann']);
    expect(d!.deleted).toBe(true);
  });

  it('refuses an image with two values for one column (names equal but for case)', () => {
    expect(() => recordRows(record('c', 1n, null, { uid: '1', UID: '1' }, '1'), users)).toThrow(ArchiveValueError);
    expect(() => recordRows(record('c', 1n, null, { uid: '1', name: 'a', NAME: 'b' }, '1'), users)).toThrow(/two values for one column/);
  });
});

describe('canonical values to bound parameters', () => {
  const accepted: [LogicalColumn, unknown, unknown][] = [
    [col('i', 'int', 'int unsigned'), 4294967295, 4294967295],
    [col('i', 'int'), '-5', -5],
    [col('y', 'year'), 0, 0],
    [col('b', 'bigint', 'bigint unsigned'), '18446744073709551615', 18446744073709551615n],
    [col('b', 'bigint'), '-9223372036854775808', -9223372036854775808n],
    [col('d', 'decimal', 'decimal(65,30)'), '-1.500000000000000000000000000000', '-1.500000000000000000000000000000'],
    [col('f', 'float'), 123456.79, 123456.79],
    [col('f', 'double'), 1.7976931348623157e308, 1.7976931348623157e308],
    [col('d', 'date'), '0000-00-00', '0000-00-00'],
    [col('t', 'time', 'time(6)'), '-838:59:59.000000', '-838:59:59.000000'],
    [col('s', 'varchar', 'varchar(5)', 'utf8mb4'), 'a😀b', 'a😀b'],
    [col('s', 'set', "set('a','b')", 'utf8mb4'), 'a,b', 'a,b'],
    [col('j', 'json'), '{"a": 1}', '{"a": 1}'],
    [col('b', 'binary', 'binary(8)', 'binary'), 'AQIAAAAAAAA=', Buffer.from([1, 2, 0, 0, 0, 0, 0, 0])],
    [col('b', 'blob', 'blob', 'binary'), '', Buffer.alloc(0)],
    [col('b', 'bit', 'bit(64)'), '18446744073709551615', Buffer.alloc(8, 0xff)],
    [col('b', 'bit', 'bit(1)'), '1', Buffer.from([1])],
    [col('b', 'bit', 'bit(12)'), '2049', Buffer.from([0x08, 0x01])],
    [
      col('g', 'geometry'),
      { srid: 4326, wkb: 'AQEAAAAAAAAAAADwPwAAAAAAAABA' },
      Buffer.concat([Buffer.from([0xe6, 0x10, 0, 0]), Buffer.from('AQEAAAAAAAAAAADwPwAAAAAAAABA', 'base64')]),
    ],
    [col('x', 'int'), null, null],
  ];
  it.each(accepted.map(([c, v, e]) => [`${c.columnType} ← ${JSON.stringify(v)}`, c, v, e] as const))(
    '%s',
    (_title, column, value, expected) => {
      expect(archiveParam(column, value as never)).toEqual(expected);
    },
  );

  const refused: [LogicalColumn, unknown][] = [
    [col('b', 'bit', 'bit(4)'), '16'],
    [col('b', 'varbinary', 'varbinary(4)', 'binary'), 'not base64!'],
    [col('i', 'int'), 1.5],
    [col('b', 'bigint'), '1e3'],
    [col('d', 'decimal'), '1e3'],
    [col('g', 'geometry'), 'POINT(1 2)'],
    [col('s', 'varchar', 'varchar(3)', 'utf8mb4'), { srid: 0, wkb: '' }],
  ];
  it.each(refused.map(([c, v]) => [`${c.columnType} ← ${JSON.stringify(v)}`, c, v] as const))('refuses %s', (_title, column, value) => {
    expect(() => archiveParam(column, value as never)).toThrow(ArchiveValueError);
  });
});

describe('batching', () => {
  const row = (n: number, bytes = 100): ArchiveRow => ({
    table: n % 2 ? 'a' : 'b',
    columns: ['id'],
    values: [n],
    shard: null,
    version: BigInt(n),
    deleted: false,
    archived: false,
    bytes,
  });
  const unit = (n: number, bytes = 100, rows = 1) =>
    archiveUnit(
      record('c', BigInt(n), null, { uid: String(n) }, String(n)),
      Array.from({ length: rows }, () => row(n, bytes)),
    );

  it('cuts transactions at maxRows and maxBytes, in order', () => {
    const units = Array.from({ length: 50 }, (_, i) => unit(i));
    const txns = planTransactions(units, { maxRows: 7, maxBytes: 1e9 });
    expect(txns.map((t) => t.length)).toEqual([7, 7, 7, 7, 7, 7, 7, 1]);
    expect(txns.flat()).toEqual(units);
    expect(planTransactions(units, { maxRows: 1000, maxBytes: 1000 }).map((t) => t.length)).toEqual([10, 10, 10, 10, 10]);
  });

  it('never splits a record, and gives an oversized one a transaction of its own', () => {
    const txns = planTransactions([unit(1), unit(2, 5000), unit(3), unit(4, 100, 2), unit(5)], { maxRows: 2, maxBytes: 1000 });
    expect(txns.map((t) => t.map((u) => u.rows.length))).toEqual([[1], [1], [1], [2], [1]]);
  });

  it('groups statements by table and columns, cut at the statement limits', () => {
    const rows = Array.from({ length: 10 }, (_, i) => row(i));
    const groups = groupStatements(rows, { maxRows: 3, maxBytes: 1e9 });
    expect(groups.map((g) => g.map((r) => r.values[0]))).toEqual([
      [0, 2, 4],
      [6, 8],
      [1, 3, 5],
      [7, 9],
    ]);
  });
});

describe('error classes', () => {
  const fromNet = (raw: object) => serverError(Object.assign(new Error('x'), raw));
  it.each([
    [{ errno: 1213, code: 'ER_LOCK_DEADLOCK' }, 'transient'],
    [{ errno: 1205 }, 'transient'],
    [{ errno: 9007 }, 'transient'],
    [{ code: 'PROTOCOL_CONNECTION_LOST', fatal: true }, 'transient'],
    [{ code: 'ECONNREFUSED', errno: -111 }, 'transient'],
    [{ errno: 1406, code: 'ER_DATA_TOO_LONG' }, 'record'],
    [{ errno: 1366 }, 'record'],
    [{ errno: 1264 }, 'record'],
    [{ errno: 1117, code: 'ER_TOO_MANY_FIELDS' }, 'record'],
    [{ errno: 1118, code: 'ER_TOO_BIG_ROWSIZE' }, 'record'],
    [{ errno: 8004 }, 'split'],
    [{ errno: 1054 }, 'schema'],
    [{ errno: 1142 }, 'unknown'],
    [{ errno: 1045, code: 'ER_ACCESS_DENIED_ERROR', fatal: true }, 'unknown'],
    [{ code: 'ENOTFOUND', errno: -3008 }, 'unknown'],
  ])('%p from net/ is %s', (raw, cls) => {
    expect(classifyArchiveError(fromNet(raw))).toBe(cls);
  });

  it('reads transient from the error, not from a table of its own', () => {
    expect(classifyArchiveError(new Error('x'))).toBe('unknown');
    expect(classifyArchiveError(Object.assign(new Error('x'), { errno: 1213 }))).toBe('unknown');
    expect(classifyArchiveError(Object.assign(new Error('x'), { retriable: true }))).toBe('transient');
  });
});
