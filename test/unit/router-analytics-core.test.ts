import { SinkBehindError } from '../../src/errors/index.js';
import { WriteTokens } from '../../src/gtid/index.js';
import { checkAnalyticsStatement } from '../../src/router/analytics-statement.js';
import { catalogColumns, createViewSql, viewDdl, type CatalogColumn } from '../../src/router/analytics-views.js';
import { shortfalls, sinkBehindError, sinkLagMs, sinkSnapshot, type SinkProgress } from '../../src/router/sink-progress.js';
import { SinkProgressWatch } from '../../src/router/sink-progress-watch.js';
import { readSinkProgressSql, sinkProgressTable, sinkProgressTableSql } from '../../src/shard/index.js';
import { ManualClock } from '../support/manual-clock.js';

const A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const B = '4e11fa47-71ca-11e1-9e33-c80aa9429562';
const NOW_MS = 1_700_000_000_000;
const NOW_US = NOW_MS * 1000;

function row(instance: string, gtidSet: string | null, opts: { lagMs?: number; caughtUp?: boolean; checkedAgoMs?: number } = {}) {
  return {
    sink: 'archive',
    instance,
    flavour: gtidSet?.includes(':') ? 'mysql' : 'mariadb',
    gtid_set: gtidSet,
    source_ts_us: BigInt(NOW_US - (opts.lagMs ?? 0) * 1000),
    caught_up: opts.caughtUp ? 1 : 0,
    checked_at_us: String(NOW_US - (opts.checkedAgoMs ?? 0) * 1000),
  };
}

function token(parts: Record<string, string>): WriteTokens {
  const t = new WriteTokens();
  for (const [instance, gtid] of Object.entries(parts)) t.add(instance, gtid);
  return t;
}

describe('the sink_progress table (shared with the CDC publishers)', () => {
  it('is created idempotently in the meta database with the agreed columns', () => {
    const ddl = sinkProgressTableSql('shardline_meta');
    expect(ddl).toMatch(/^CREATE TABLE IF NOT EXISTS `shardline_meta`\.`sink_progress` \(/);
    for (const column of [
      'sink VARCHAR(64) NOT NULL',
      'instance VARCHAR(64) NOT NULL',
      'flavour VARCHAR(16) NOT NULL',
      'gtid_set LONGTEXT NULL',
      'source_ts_us BIGINT NOT NULL',
      'caught_up TINYINT NOT NULL',
      'checked_at_us BIGINT NOT NULL',
      'PRIMARY KEY (sink, instance)',
    ])
      expect(ddl).toContain(column);
  });

  it('quotes the meta database and reads one sink with a bound name', () => {
    expect(sinkProgressTable('me`ta')).toBe('`me``ta`.`sink_progress`');
    expect(readSinkProgressSql('m')).toBe(
      'SELECT sink, instance, flavour, gtid_set, source_ts_us, caught_up, checked_at_us FROM `m`.`sink_progress` WHERE sink = ?',
    );
  });
});

describe('sink progress: rows, lag, what a wait still needs', () => {
  it('reads BIGINT columns as bigint, number or text; a NULL or malformed set applies nothing', () => {
    const snap = sinkSnapshot([row('shard-0', `${A}:1-10`, { lagMs: 5 }), row('shard-1', null), row('shard-2', 'garbage:x')]);
    expect(snap.get('shard-0')).toMatchObject({ sourceTsUs: NOW_US - 5000, caughtUp: false, checkedAtUs: NOW_US });
    expect(snap.get('shard-0')!.applied!.toString()).toBe(`${A}:1-10`);
    expect(snap.get('shard-1')!.applied).toBeNull();
    expect(snap.get('shard-2')!.applied).toBeNull();
  });

  it('lag: since the last check when caught up, else since the last applied commit; unknown without a row', () => {
    const p = (caughtUp: boolean): SinkProgress => ({
      instance: 'i',
      applied: null,
      sourceTsUs: NOW_US - 60_000_000,
      caughtUp,
      checkedAtUs: NOW_US - 250_000,
    });
    expect(sinkLagMs(p(true), NOW_US)).toBe(250);
    expect(sinkLagMs(p(false), NOW_US)).toBe(60_000);
    expect(sinkLagMs(undefined, NOW_US)).toBe(Infinity);
    // a publisher clock ahead of ours is no negative lag
    expect(sinkLagMs({ ...p(true), checkedAtUs: NOW_US + 5_000_000 }, NOW_US)).toBe(0);
  });

  it('a token is applied when every instance in it has a row whose set holds its GTIDs (MySQL and MariaDB)', () => {
    const snap = sinkSnapshot([row('shard-0', `${A}:1-10,${B}:1-3`), row('shard-2', '0-3-120,1-4-7')]);
    const met = (t: WriteTokens) => shortfalls({ tokens: t, instances: [] }, snap, NOW_US);
    expect(met(token({ 'shard-0': `${A}:10`, 'shard-2': '0-3-120' }))).toEqual([]);
    expect(met(token({ 'shard-0': `${A}:7`, 'shard-2': '0-9-100' }))).toEqual([]);
    expect(met(token({ 'shard-0': `${A}:11` }))).toEqual([{ instance: 'shard-0', why: 'not-applied', lagMs: 0 }]);
    expect(met(token({ 'shard-2': '0-3-121' }))).toEqual([{ instance: 'shard-2', why: 'not-applied', lagMs: 0 }]);
    expect(met(token({ 'shard-1': `${A}:1` }))).toEqual([{ instance: 'shard-1', why: 'no-progress', lagMs: null }]);
    // a MySQL GTID against a MariaDB position is never applied
    expect(met(token({ 'shard-2': `${A}:1` }))).toEqual([{ instance: 'shard-2', why: 'not-applied', lagMs: 0 }]);
  });

  it('maxStalenessMs needs every configured instance within the bound; each instance is listed once', () => {
    const snap = sinkSnapshot([
      row('shard-0', `${A}:1-10`, { caughtUp: true, checkedAgoMs: 40, lagMs: 90_000 }),
      row('shard-1', `${B}:1-3`, { lagMs: 700 }),
    ]);
    const instances = ['shard-0', 'shard-1', 'shard-2'];
    expect(shortfalls({ maxStalenessMs: 1000, instances }, snap, NOW_US)).toEqual([
      { instance: 'shard-2', why: 'no-progress', lagMs: null },
    ]);
    expect(shortfalls({ maxStalenessMs: 500, instances: ['shard-0', 'shard-1'] }, snap, NOW_US)).toEqual([
      { instance: 'shard-1', why: 'too-stale', lagMs: 700 },
    ]);
    const both = shortfalls(
      { tokens: token({ 'shard-1': `${B}:4` }), maxStalenessMs: 500, instances: ['shard-0', 'shard-1'] },
      snap,
      NOW_US,
    );
    expect(both).toEqual([{ instance: 'shard-1', why: 'not-applied', lagMs: 700 }]);
  });

  it('SINK_BEHIND is retriable and says which instances and how far behind, at most five in the message', () => {
    const behind = [
      { instance: 'shard-0', why: 'not-applied' as const, lagMs: 1234 },
      { instance: 'shard-1', why: 'no-progress' as const, lagMs: null },
      { instance: 'shard-2', why: 'too-stale' as const, lagMs: 9000 },
    ];
    const err = sinkBehindError('archive', behind, 10_003.4, { maxStalenessMs: 5000, instances: [] });
    expect(err).toBeInstanceOf(SinkBehindError);
    expect(err).toMatchObject({ code: 'SINK_BEHIND', retriable: true, name: 'SinkBehindError' });
    expect(err.message).toBe(
      'the archive sink is behind after waiting 10003 ms (by its sink_progress rows): shard-0: the write token is not applied yet (lag 1234 ms); shard-1: no progress published; shard-2: lag 9000 ms over the bound of 5000 ms',
    );
    expect(err.details).toMatchObject({ sink: 'archive', waitedMs: 10003, maxStalenessMs: 5000, instances: behind });
    const many = Array.from({ length: 8 }, (_, i) => ({ instance: `shard-${i}`, why: 'no-progress' as const, lagMs: null }));
    const long = sinkBehindError('elasticsearch', many, 5, { instances: [] });
    expect(long.message).toContain('shard-4: no progress published; and 3 more');
    expect(long.message).not.toContain('shard-5');
    expect((long.details['instances'] as unknown[]).length).toBe(8);
  });
});

describe('SinkProgressWatch: polling the published progress', () => {
  function harness(rows: () => Record<string, unknown>[], pollMs = 20) {
    const clock = new ManualClock(NOW_MS);
    const reads: number[] = [];
    const watch = new SinkProgressWatch(
      async (sink) => {
        expect(sink).toBe('archive');
        reads.push(clock.now());
        return rows();
      },
      pollMs,
      { now: () => clock.now(), sleep: (ms) => new Promise((resolve) => clock.setTimeout(resolve, ms)) },
    );
    return { clock, reads, watch };
  }
  const nowRow = (clock: ManualClock, gtids: string) => ({ ...row('shard-0', gtids), source_ts_us: clock.now() * 1000 });

  it('resolves at the first read that shows the token applied, reading every pollMs meanwhile', async () => {
    let applied = `${A}:1-5`;
    const h = harness(() => [nowRow(h.clock, applied)]);
    let done = false;
    const wait = h.watch.waitFor('archive', { tokens: token({ 'shard-0': `${A}:7` }), instances: [] }, 1000).then(() => (done = true));
    await h.clock.advance(0);
    expect(h.reads).toEqual([NOW_MS]);
    await h.clock.advance(45);
    expect(h.reads).toEqual([NOW_MS, NOW_MS + 20, NOW_MS + 40]);
    expect(done).toBe(false);
    applied = `${A}:1-7`;
    await h.clock.advance(20);
    await wait;
    expect(done).toBe(true);
    expect(h.reads.length).toBe(4);
  });

  it('callers waiting together share the reads, and a condition already met costs no round trip', async () => {
    let applied = `${A}:1-5`;
    const h = harness(() => [nowRow(h.clock, applied)]);
    const need = (n: number) => ({ tokens: token({ 'shard-0': `${A}:${n}` }), instances: [] });
    const waits = [6, 7, 8, 6, 7].map((n) => h.watch.waitFor('archive', need(n), 1000));
    await h.clock.advance(100);
    expect(h.reads.length).toBe(6); // one read at 0, then one per 20 ms — not one per caller
    applied = `${A}:1-8`;
    await h.clock.advance(20);
    await Promise.all(waits);
    const before = h.reads.length;
    await h.watch.waitFor('archive', need(3), 1000);
    expect(h.reads.length).toBe(before);
  });

  it('fails with SINK_BEHIND after maxWaitMs; a wait of 0 still reads once', async () => {
    const h = harness(() => [nowRow(h.clock, `${A}:1-5`)]);
    const condition = { tokens: token({ 'shard-0': `${A}:9` }), instances: [] };
    const failed = h.watch.waitFor('archive', condition, 100).catch((e: unknown) => e);
    await h.clock.advance(150);
    const err = (await failed) as SinkBehindError;
    expect(err).toMatchObject({ code: 'SINK_BEHIND', retriable: true });
    expect(err.details).toMatchObject({ sink: 'archive', waitedMs: 100 });
    expect(h.reads.at(-1)).toBe(NOW_MS + 100);
    const reads = h.reads.length;
    const zero = h.watch.waitFor('archive', condition, 0).catch((e: unknown) => e);
    await h.clock.advance(0);
    expect(await zero).toBeInstanceOf(SinkBehindError);
    expect(h.reads.length).toBe(reads + 1);
  });

  it('a lag bound is checked against the time now, not the time of the read', async () => {
    const h = harness(() => [{ ...row('shard-0', `${A}:1`, { caughtUp: true }), checked_at_us: NOW_US }], 1000);
    await h.watch.waitFor('archive', { maxStalenessMs: 50, instances: ['shard-0'] }, 0);
    await h.clock.advance(60);
    // the cached read (checked 60 ms ago) no longer proves a 50 ms bound: a new read is made
    const failed = h.watch.waitFor('archive', { maxStalenessMs: 50, instances: ['shard-0'] }, 0).catch((e: unknown) => e);
    await h.clock.advance(0);
    expect(await failed).toMatchObject({
      code: 'SINK_BEHIND',
      details: { instances: [{ instance: 'shard-0', why: 'too-stale', lagMs: 60 }] },
    });
    expect(h.reads.length).toBe(2);
  });

  it('a failed read fails its waiters and is not kept', async () => {
    let fail = true;
    const h = harness(() => {
      if (fail) throw new Error('archive down');
      return [nowRow(h.clock, `${A}:1-9`)];
    });
    const condition = { tokens: token({ 'shard-0': `${A}:9` }), instances: [] };
    await expect(h.watch.waitFor('archive', condition, 1000)).rejects.toThrow('archive down');
    fail = false;
    await expect(h.watch.waitFor('archive', condition, 1000)).resolves.toBeDefined();
  });
});

describe('analytics views', () => {
  const col = (db: string, table: string, column: string, tableType = 'BASE TABLE'): CatalogColumn => ({ db, table, column, tableType });
  const archiveTable = (table: string, ...columns: string[]) =>
    [...columns, '_shard', '_version', '_deleted', '_archived_at'].map((c) => col('arch', table, c));

  it('a view selects every column but _deleted of the rows not deleted', () => {
    expect(createViewSql('arch_live', 'arch', 'users', ['uid', 'name', '_shard'])).toBe(
      'CREATE OR REPLACE VIEW `arch_live`.`users` AS SELECT `uid`, `name`, `_shard` FROM `arch`.`users` WHERE `_deleted` = 0',
    );
    expect(createViewSql('v', 'a', 'we`ird', ['c`1'])).toBe(
      'CREATE OR REPLACE VIEW `v`.`we``ird` AS SELECT `c``1` FROM `a`.`we``ird` WHERE `_deleted` = 0',
    );
  });

  it('creates the database and a view per archive table (tables with _deleted only)', () => {
    const catalog = [...archiveTable('users', 'uid', 'name'), ...archiveTable('orders', 'uid', 'order_id'), col('arch', 'notes', 'id')];
    expect(viewDdl('arch', 'arch_live', catalog, false)).toEqual([
      'CREATE DATABASE IF NOT EXISTS `arch_live` DEFAULT CHARACTER SET utf8mb4',
      'CREATE OR REPLACE VIEW `arch_live`.`users` AS SELECT `uid`, `name`, `_shard`, `_version`, `_archived_at` FROM `arch`.`users` WHERE `_deleted` = 0',
      'CREATE OR REPLACE VIEW `arch_live`.`orders` AS SELECT `uid`, `order_id`, `_shard`, `_version`, `_archived_at` FROM `arch`.`orders` WHERE `_deleted` = 0',
    ]);
  });

  it('leaves views that match alone and makes again the ones the archive outgrew', () => {
    const view = (table: string, ...columns: string[]) =>
      [...columns, '_shard', '_version', '_archived_at'].map((c) => col('arch_live', table, c, 'VIEW'));
    const catalog = [
      ...archiveTable('users', 'uid', 'name', 'email'),
      ...archiveTable('orders', 'uid', 'order_id'),
      ...view('users', 'uid', 'name'),
      ...view('orders', 'uid', 'order_id'),
      ...view('gone', 'x'),
    ];
    expect(viewDdl('arch', 'arch_live', catalog, true)).toEqual([
      'CREATE OR REPLACE VIEW `arch_live`.`users` AS SELECT `uid`, `name`, `email`, `_shard`, `_version`, `_archived_at` FROM `arch`.`users` WHERE `_deleted` = 0',
    ]);
  });

  it('never replaces a base table of the views database, nor makes views of views in the archive', () => {
    const catalog = [
      ...archiveTable('users', 'uid'),
      col('arch_live', 'users', 'uid'),
      ...archiveTable('v', 'a').map((c) => ({ ...c, tableType: 'VIEW' })),
    ];
    expect(viewDdl('arch', 'arch_live', catalog, true)).toEqual([]);
  });

  it('current views also hide archived rows, where the table has the _archived column', () => {
    expect(createViewSql('arch_current', 'arch', 'users', ['uid', '_archived'], 'current')).toBe(
      'CREATE OR REPLACE VIEW `arch_current`.`users` AS SELECT `uid`, `_archived` FROM `arch`.`users` WHERE `_deleted` = 0 AND `_archived` = 0',
    );
    expect(createViewSql('arch_current', 'arch', 'users', ['uid'], 'current')).toBe(
      'CREATE OR REPLACE VIEW `arch_current`.`users` AS SELECT `uid` FROM `arch`.`users` WHERE `_deleted` = 0',
    );
    expect(createViewSql('arch_live', 'arch', 'users', ['uid', '_archived'], 'live')).not.toContain('`_archived` = 0');
    const catalog = [...archiveTable('users', 'uid', '_archived'), ...archiveTable('old', 'id')];
    expect(viewDdl('arch', 'arch_current', catalog, true, 'current')).toEqual([
      'CREATE OR REPLACE VIEW `arch_current`.`users` AS SELECT `uid`, `_archived`, `_shard`, `_version`, `_archived_at` FROM `arch`.`users` WHERE `_deleted` = 0 AND `_archived` = 0',
      'CREATE OR REPLACE VIEW `arch_current`.`old` AS SELECT `id`, `_shard`, `_version`, `_archived_at` FROM `arch`.`old` WHERE `_deleted` = 0',
    ]);
  });

  it('reads the catalog query rows', () => {
    expect(catalogColumns([{ db: 'a', tbl: 't', col: 'c', tableType: 'BASE TABLE' }])).toEqual([
      { db: 'a', table: 't', column: 'c', tableType: 'BASE TABLE' },
    ]);
  });
});

describe('analytics statements: reads only', () => {
  it.each([
    'SELECT 1',
    '  select u.name, SUM(o.amount) OVER (PARTITION BY u.uid) FROM users u JOIN orders o ON o.uid = u.uid',
    'WITH t AS (SELECT 1 AS a) SELECT a FROM t',
    '((SELECT 1) UNION (SELECT 2))',
    '/* a comment */ -- another\n SELECT 1;',
    'SELECT /*+ MAX_EXECUTION_TIME(1000) */ 1',
    'EXPLAIN SELECT * FROM users',
    'SHOW TABLES',
    'TABLE users',
    'VALUES ROW(1, 2)',
    'DESCRIBE users',
  ])('runs %j', (sql) => {
    expect(() => checkAnalyticsStatement(sql)).not.toThrow();
  });

  it.each([
    ['INSERT INTO users VALUES (1)', 'SQL_UNSUPPORTED', /starts with INSERT/],
    ['SET SESSION TRANSACTION READ WRITE', 'SQL_UNSUPPORTED', /reads only/],
    ['START TRANSACTION READ WRITE', 'SQL_UNSUPPORTED', /START/],
    ['(DELETE FROM users)', 'SQL_UNSUPPORTED', /DELETE/],
    ['`select` 1', 'SQL_UNSUPPORTED', /something else/],
    ['', 'SQL_UNSUPPORTED', /needs a statement/],
    ['/*!SET SESSION TRANSACTION READ WRITE, @x = */ (SELECT 1)', 'SQL_EXECUTABLE_COMMENT', /executable comment/],
    ['SELECT 1 /*M!, 2 */', 'SQL_EXECUTABLE_COMMENT', /offset 9/],
    ['SELECT 1; DROP TABLE users', 'SQL_MULTIPLE_STATEMENTS', /offset 10/],
  ])('refuses %j', (sql, code, message) => {
    let err: unknown;
    try {
      checkAnalyticsStatement(sql);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code });
    expect((err as Error).message).toMatch(message);
  });
});
