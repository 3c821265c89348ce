import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { bundledClusterConfig, parseClusterConfig, parseDuration, type ClusterConfig } from '../../src/config/index.js';
import { ArchivalError, ConfigError, DriverError } from '../../src/errors/index.js';
import {
  RatePacer,
  archivalTables,
  boundKey,
  countOlderSql,
  cutOf,
  deleteBatchSql,
  isShardMoveError,
  physicalTables,
  rowsPerSecond,
  runIdOf,
  selectBatchSql,
  tableShape,
  tableShapes,
  columnsOfTablesSql,
  primaryKeysOfTablesSql,
  type PhysicalTable,
  type TableShape,
} from '../../src/archival/index.js';
import { archivalRunText, archivalVerifyText } from '../../src/cli/archival-command.js';
import {
  ARCHIVAL_MARKER_TABLE,
  Topology,
  archivalMarkerDeletedUpdate,
  archivalMarkerInsert,
  archivalMarkerTableSql,
  archivalRemovedSql,
} from '../../src/shard/index.js';

const env = { ...process.env, SHARDLINE_REPL_PASSWORD: 'x' };

/** The bundled config with `tables` replaced. */
function withTables(tables: Record<string, unknown>): ClusterConfig {
  const doc = parse(readFileSync(bundledClusterConfig, 'utf8')) as Record<string, any>;
  doc['sharding'] = { ...doc['sharding'], tables };
  return parseClusterConfig(doc, env, 'test', process.cwd());
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('archival config', () => {
  it('takes column and olderThan, fills the defaults', () => {
    const config = withTables({ users: { shardKey: 'uid', archival: { column: 'created_at', olderThan: '90d' } } });
    expect(config.sharding.tables['users']!.archival).toEqual({
      column: 'created_at',
      olderThan: '90d',
      batchRows: 500,
      maxRowsPerSecond: 2000,
      search: 'keep',
    });
  });

  it('accepts null (unthrottled) and every field', () => {
    const archival = { column: 'created_at', olderThan: '12h', batchRows: 10_000, maxRowsPerSecond: null, search: 'drop' };
    expect(withTables({ users: { shardKey: 'uid', archival } }).sharding.tables['users']!.archival).toEqual(archival);
  });

  it('parses its own output again (a parsed config re-parses unchanged)', () => {
    const config = withTables({ users: { shardKey: 'uid', archival: { column: 'created_at', olderThan: '30m' } } });
    const again = parseClusterConfig(structuredClone(config), env);
    expect(again.sharding.tables).toEqual(config.sharding.tables);
  });

  it.each([
    [{ column: 'created_at', olderThan: '90d', extra: 1 }, /archival: Unrecognized key/i],
    [{ column: 'created_at', olderThan: '90 days' }, /olderThan: a duration greater than zero such as 90d/],
    [{ column: 'created_at', olderThan: '0d' }, /olderThan: a duration greater than zero/],
    [{ column: 'created_at', olderThan: '1.5d' }, /olderThan: a duration/],
    [{ column: 'created_at', olderThan: '-1d' }, /olderThan: a duration/],
    [{ column: 'created_at', olderThan: '90w' }, /olderThan: a duration/],
    [{ column: 'created_at', olderThan: '36501d' }, /at most 100 years/],
    [{ column: 'created_at', olderThan: 90 }, /olderThan/],
    [{ olderThan: '90d' }, /archival\.column/],
    [{ column: 'created at', olderThan: '90d' }, /archival\.column: a plain SQL identifier/],
    [{ column: 'created_at', olderThan: '90d', batchRows: 0 }, /batchRows/],
    [{ column: 'created_at', olderThan: '90d', batchRows: 10_001 }, /batchRows/],
    [{ column: 'created_at', olderThan: '90d', maxRowsPerSecond: 0 }, /maxRowsPerSecond/],
    [{ column: 'created_at', olderThan: '90d', search: 'delete' }, /search/],
  ])('refuses %j', (archival, message) => {
    const err = thrown(() => withTables({ users: { shardKey: 'uid', archival } }));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('CONFIG_INVALID');
    expect((err as Error).message).toMatch(/sharding\.tables\.users\.archival/);
    expect((err as Error).message).toMatch(message);
  });

  it('durations: d, h, m, s to milliseconds', () => {
    expect(parseDuration('90d')).toBe(90 * 86_400_000);
    expect(parseDuration('12h')).toBe(12 * 3_600_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('45s')).toBe(45_000);
    for (const bad of ['', 'd', '0s', '1 d', ' 1d', '1D', '1ms', '1e3s', '0x10s', '1d2h']) expect(parseDuration(bad)).toBeNull();
  });
});

describe('archival tables', () => {
  const config = withTables({
    users: { shardKey: 'uid', archival: { column: 'created_at', olderThan: '90d', batchRows: 100 } },
    orders: { shardKey: 'uid' },
  });

  it('lists the tables with an archival config, resolved', () => {
    expect(archivalTables(config.sharding)).toEqual([
      {
        logical: 'users',
        column: 'created_at',
        olderThan: '90d',
        olderThanMs: 90 * 86_400_000,
        batchRows: 100,
        maxRowsPerSecond: 2000,
        search: 'keep',
      },
    ]);
    expect(archivalTables(config.sharding, 'USERS').map((t) => t.logical)).toEqual(['users']);
  });

  it.each([
    ['orders', /table orders has no archival config: add sharding\.tables\.orders\.archival/],
    ['nope', /no sharded table nope in sharding\.tables/],
  ])('--table %s is a typed error', (table, message) => {
    const err = thrown(() => archivalTables(config.sharding, table));
    expect(err).toBeInstanceOf(ArchivalError);
    expect((err as ArchivalError).code).toBe('ARCHIVAL_NOT_CONFIGURED');
    expect((err as Error).message).toMatch(message);
  });

  it('no table configured at all is a typed error', () => {
    const err = thrown(() => archivalTables(withTables({ users: { shardKey: 'uid' } }).sharding));
    expect((err as ArchivalError).code).toBe('ARCHIVAL_NOT_CONFIGURED');
  });

  it('every physical table once, on the instance of its shard', () => {
    const topology = new Topology(
      config.sharding,
      config.instances.map((i) => i.name),
    );
    const all = physicalTables(topology, 'users');
    expect(all).toHaveLength(1024);
    expect(new Set(all.map((t) => `${t.database}.${t.table}`)).size).toBe(1024);
    expect(all[513]).toEqual({ logical: 'users', shard: 513, instance: 'shard-2', database: 'app_08', table: 'users_0513' });
  });
});

const users: PhysicalTable = { logical: 'users', shard: 7, instance: 'shard-0', database: 'app_00', table: 'users_0007' };
const single: TableShape = { primaryKey: [{ name: 'uid', integer: true }], column: 'created_at' };
const composite: TableShape = {
  primaryKey: [
    { name: 'uid', integer: true },
    { name: 'order_id', integer: true },
  ],
  column: 'created_at',
};
const CUT = '2026-06-08 03:37:34.479279';

describe('batch statements', () => {
  it('select: first batch, then keyset after the last key, no locking clause, every value bound', () => {
    expect(selectBatchSql(users, single, null, CUT, 500)).toEqual({
      sql: 'SELECT `uid` FROM `app_00`.`users_0007` WHERE `created_at` < ? ORDER BY `uid` LIMIT 500',
      params: [CUT],
    });
    expect(selectBatchSql(users, single, [42n], CUT, 500)).toEqual({
      sql: 'SELECT `uid` FROM `app_00`.`users_0007` WHERE `uid` > ? AND `created_at` < ? ORDER BY `uid` LIMIT 500',
      params: [42n, CUT],
    });
  });

  it('select on a composite key: the expanded row-value comparison (a, b) > (?, ?)', () => {
    expect(selectBatchSql({ ...users, table: 'orders_0007' }, composite, [5n, 9n], CUT, 3)).toEqual({
      sql: 'SELECT `uid`, `order_id` FROM `app_00`.`orders_0007` WHERE (`uid` > ? OR (`uid` = ? AND `order_id` > ?)) AND `created_at` < ? ORDER BY `uid`, `order_id` LIMIT 3',
      params: [5n, 5n, 9n, CUT],
    });
  });

  it('delete: the selected keys that are still older than the cut', () => {
    expect(deleteBatchSql(users, single, [[1n], [2n]], CUT)).toEqual({
      sql: 'DELETE FROM `app_00`.`users_0007` WHERE `uid` IN (?, ?) AND `created_at` < ?',
      params: [1n, 2n, CUT],
    });
    expect(deleteBatchSql(users, composite, [[1n, 2n]], CUT)).toEqual({
      sql: 'DELETE FROM `app_00`.`users_0007` WHERE (`uid`, `order_id`) IN ((?, ?)) AND `created_at` < ?',
      params: [1n, 2n, CUT],
    });
    expect(() => deleteBatchSql(users, single, [], CUT)).toThrow(RangeError);
    expect(() => selectBatchSql(users, single, null, CUT, 0)).toThrow(RangeError);
  });

  it('identifiers are quoted, never spliced', () => {
    const odd: PhysicalTable = { ...users, database: 'a`b', table: 't`; DROP TABLE x; --' };
    const shape: TableShape = { primaryKey: [{ name: 'k`', integer: false }], column: 'c`' };
    expect(selectBatchSql(odd, shape, ['v'], CUT, 1).sql).toBe(
      'SELECT `k``` FROM `a``b`.`t``; DROP TABLE x; --` WHERE `k``` > ? AND `c``` < ? ORDER BY `k``` LIMIT 1',
    );
    expect(countOlderSql(odd, 'c`', CUT)).toEqual({
      sql: 'SELECT COUNT(*) AS n FROM `a``b`.`t``; DROP TABLE x; --` WHERE `c``` < ?',
      params: [CUT],
    });
  });

  it('keys are bound exactly: integers as BigInt past 2^53, others as read', () => {
    expect(boundKey(composite, { uid: '18446744073709551615', order_id: 3 })).toEqual([18446744073709551615n, 3n]);
    const text: TableShape = { primaryKey: [{ name: 'code', integer: false }], column: 'created_at' };
    expect(boundKey(text, { code: '007' })).toEqual(['007']);
    const bin = Buffer.from([0, 1]);
    expect(boundKey(text, { code: bin })[0]).toBe(bin);
  });
});

describe('table shape', () => {
  const cols = [
    { name: 'uid', type: 'bigint' },
    { name: 'name', type: 'varchar' },
    { name: 'created_at', type: 'datetime' },
  ];

  it('primary key in key order, integer columns marked', () => {
    expect(tableShape(users, 'created_at', cols, [{ name: 'uid' }])).toEqual(single);
    expect(tableShape(users, 'CREATED_AT', [...cols, { name: 'code', type: 'char' }], [{ name: 'code' }, { name: 'uid' }])).toEqual({
      primaryKey: [
        { name: 'code', integer: false },
        { name: 'uid', integer: true },
      ],
      column: 'CREATED_AT',
    });
  });

  it.each([
    [[], [{ name: 'uid' }], /does not exist: run shardline migrate/],
    [cols, [], /has no primary key/],
    [
      cols.filter((c) => c.name !== 'created_at'),
      [{ name: 'uid' }],
      /has no column created_at \(sharding\.tables\.users\.archival\.column\)/,
    ],
    [
      [...cols.slice(0, 2), { name: 'created_at', type: 'varchar' }],
      [{ name: 'uid' }],
      /is VARCHAR, the archival column must be a DATE, DATETIME or TIMESTAMP/,
    ],
  ])('refuses a table that cannot be archived (%#)', (columns, pk, message) => {
    const err = thrown(() => tableShape(users, 'created_at', columns, pk));
    expect((err as ArchivalError).code).toBe('ARCHIVAL_FAILED');
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain('app_00.users_0007 on shard-0');
  });
});

describe('table shapes of an instance, read at once', () => {
  const t = (shard: number, logical = 'users'): PhysicalTable => ({
    logical,
    shard,
    instance: 'shard-0',
    database: `app_${String(shard).padStart(2, '0')}`,
    table: `${logical}_${String(shard).padStart(4, '0')}`,
  });

  it('one statement each for columns and primary keys, every name bound once', () => {
    const tables = [t(1), t(2), { ...t(3), database: 'app_01' }];
    const c = columnsOfTablesSql(tables);
    expect(c.sql).toBe(
      'SELECT TABLE_SCHEMA AS db, TABLE_NAME AS tbl, COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN (?, ?) AND TABLE_NAME IN (?, ?, ?) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION',
    );
    expect(c.params).toEqual(['app_01', 'app_02', 'users_0001', 'users_0002', 'users_0003']);
    const p = primaryKeysOfTablesSql(tables);
    expect(p.sql).toContain(
      "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN (?, ?) AND TABLE_NAME IN (?, ?, ?) AND INDEX_NAME = 'PRIMARY'",
    );
    expect(p.sql).toMatch(/ORDER BY TABLE_SCHEMA, TABLE_NAME, SEQ_IN_INDEX$/);
    expect(p.params).toEqual(c.params);
  });

  it('each table gets its own shape or its own error; pairs not asked for are ignored', () => {
    const [a, b, c] = [t(1), t(2), t(3)];
    const col = (x: PhysicalTable, name: string, type: string) => ({ db: x.database, tbl: x.table, name, type });
    const columns = [
      col(a, 'uid', 'bigint'),
      col(a, 'created_at', 'datetime'),
      col(b, 'uid', 'bigint'),
      col(b, 'created_at', 'varchar'),
      // the cross pair app_01.users_0002 exists too but was not asked for
      { db: a.database, tbl: b.table, name: 'x', type: 'int' },
    ];
    const pks = [
      { db: a.database, tbl: a.table, name: 'uid' },
      { db: b.database, tbl: b.table, name: 'uid' },
    ];
    const shapes = tableShapes([a, b, c], 'created_at', columns, pks);
    expect(shapes.get('app_01.users_0001')).toEqual(single);
    expect((shapes.get('app_02.users_0002') as Error).message).toMatch(/app_02\.users_0002 on shard-0: column created_at is VARCHAR/);
    expect((shapes.get('app_03.users_0003') as Error).message).toMatch(/app_03\.users_0003 on shard-0 does not exist/);
    expect(shapes.size).toBe(3);
  });
});

describe('the cut', () => {
  it('is now − olderThan, to the microsecond', () => {
    expect(cutOf('2026-12-05 03:37:34.479279', 180 * 86_400_000)).toBe('2026-06-08 03:37:34.479279');
    expect(cutOf('2024-03-01 00:00:00.000001', 86_400_000)).toBe('2024-02-29 00:00:00.000001');
    expect(cutOf('2026-01-01 00:00:00', 1000)).toBe('2025-12-31 23:59:59.000000');
    expect(cutOf('2026-01-01 00:00:00.5', 45_000)).toBe('2025-12-31 23:59:15.500000');
  });

  it('refuses what is not the server clock', () => {
    expect((thrown(() => cutOf('yesterday', 1000)) as ArchivalError).code).toBe('ARCHIVAL_FAILED');
    expect((thrown(() => cutOf('1001-01-01 00:00:00', 400 * 86_400_000)) as ArchivalError).code).toBe('ARCHIVAL_FAILED');
  });
});

describe('pacing', () => {
  it('unthrottled never waits', () => {
    const p = new RatePacer(null);
    p.book(0, 1_000_000);
    expect(p.delay(0)).toBe(0);
  });

  it('a batch starts once the rows booked before it are paid for; an empty batch costs nothing', () => {
    const p = new RatePacer(1000);
    expect(p.delay(0)).toBe(0);
    p.book(0, 500); // paid for at 500 ms
    expect(p.delay(10)).toBe(490);
    p.book(500, 0);
    expect(p.delay(500)).toBe(0);
    p.book(500, 250);
    expect(p.delay(600)).toBe(150);
    expect(p.delay(5000)).toBe(0);
    p.book(5000, 100); // idle time is not saved up for a burst
    expect(p.delay(5000)).toBe(100);
  });

  it('holds the bound over a long run of full batches on four instances', () => {
    const p = new RatePacer(5000);
    const free = [0, 0, 0, 0];
    let last = 0;
    for (let i = 0; i < 400; i++) {
      const w = i % 4;
      const at = free[w]!;
      const start = at + p.delay(at);
      p.book(start, 250);
      last = Math.max(last, start);
      free[w] = start + 3; // a batch takes 3 ms
    }
    // 400 batches × 250 rows = 100,000 rows at 5,000 rows/s: 20 s, less the batches that start together
    expect(last).toBeGreaterThanOrEqual(19_950 - 4 * 50);
  });
});

describe('shard moves', () => {
  it("a move's fence or rename sends the table back to the queue; a missing marker table does not", () => {
    expect(isShardMoveError(new DriverError('fenced', { sqlState: '45F01', errno: 1644 }))).toBe(true);
    expect(isShardMoveError(new DriverError('gone', { errno: 1146, sql: 'DELETE FROM `app_12`.`users_0768` WHERE `uid` IN (?)' }))).toBe(
      true,
    );
    expect(isShardMoveError(new DriverError('gone', { errno: 1146, sql: 'INSERT INTO `m`.`archival_batches` (run_id) VALUES (?)' }))).toBe(
      false,
    );
    expect(isShardMoveError(new DriverError('deadlock', { errno: 1213, sqlState: '40001' }))).toBe(false);
    expect(isShardMoveError(new Error('x'))).toBe(false);
    expect(isShardMoveError(null)).toBe(false);
  });
});

describe('marker table', () => {
  it('is archival_batches in the meta database, with the decided DDL', () => {
    expect(ARCHIVAL_MARKER_TABLE).toBe('archival_batches');
    expect(archivalMarkerTableSql('shardline_meta')).toBe(
      [
        'CREATE TABLE IF NOT EXISTS `shardline_meta`.`archival_batches` (',
        '  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,',
        '  run_id VARCHAR(64) NOT NULL,',
        '  logical_table VARCHAR(64) NOT NULL,',
        '  physical_db VARCHAR(64) NOT NULL,',
        '  physical_table VARCHAR(64) NOT NULL,',
        '  cut DATETIME(6) NOT NULL,',
        '  rows_planned INT NOT NULL,',
        '  rows_deleted INT NULL,',
        '  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),',
        '  KEY (logical_table, created_at)',
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
      ].join('\n'),
    );
  });

  it('marker INSERT and UPDATE bind every value', () => {
    expect(
      archivalMarkerInsert('m', {
        runId: 'r',
        logicalTable: 'users',
        physicalDb: 'app_00',
        physicalTable: 'users_0007',
        cut: CUT,
        rowsPlanned: 3,
      }),
    ).toEqual({
      sql: 'INSERT INTO `m`.`archival_batches` (run_id, logical_table, physical_db, physical_table, cut, rows_planned) VALUES (?, ?, ?, ?, ?, ?)',
      params: ['r', 'users', 'app_00', 'users_0007', CUT, 3],
    });
    expect(archivalMarkerDeletedUpdate('m', 17, 2)).toEqual({
      sql: 'UPDATE `m`.`archival_batches` SET rows_deleted = ? WHERE id = ?',
      params: [2, 17],
    });
    expect(archivalRemovedSql('m', 2)).toBe(
      'SELECT logical_table, COUNT(*) AS batches, COALESCE(SUM(COALESCE(rows_deleted, rows_planned)), 0) AS removed FROM `m`.`archival_batches` WHERE logical_table IN (?, ?) GROUP BY logical_table',
    );
  });
});

describe('reports', () => {
  it('run ids fit the marker column', () => {
    const id = runIdOf(Date.UTC(2026, 11, 5), 'deadbeefcafe');
    expect(id).toMatch(/^arch-[0-9a-z]+-deadbeef$/);
    expect(id.length).toBeLessThanOrEqual(64);
    expect(rowsPerSecond(6000, 2000)).toBe(3000);
    expect(rowsPerSecond(5, 0)).toBe(0);
  });

  it('text for a person', () => {
    const base = { run_id: 'arch-x', cut: CUT, now: '2026-12-05 03:37:34.479279', rows_per_s: 3000, seconds: 2 };
    expect(
      archivalRunText({
        ...base,
        dry_run: false,
        rows_deleted: 6000,
        tables: [{ table: 'users', column: 'created_at', cut: CUT, rows_deleted: 6000, batches: 1100, physical_tables: 1024, seconds: 2 }],
      }),
    ).toBe(
      `users: 6000 rows with created_at < ${CUT} deleted in 1100 batches over 1024 physical tables, 2.0 s\nrun arch-x: 6000 rows deleted in 2.0 s (3000 rows/s)\n`,
    );
    expect(
      archivalVerifyText({
        tables: [{ table: 'users', removed_from_shards: 10, marked_archived: 8, difference: 2, batches: 3 }],
        differences: 1,
      }),
    ).toMatch(
      /^users: 10 rows removed from the shards \(3 batches\), 8 marked archived in the archive — DIFFERENCE \+2\n1 table\(s\) differ/,
    );
  });
});
