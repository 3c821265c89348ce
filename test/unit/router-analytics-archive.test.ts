import { parseClusterConfig } from '../../src/config/index.js';
import { DriverError } from '../../src/errors/index.js';
import type { DbConnection, QueryOutcome } from '../../src/net/index.js';
import { createJsSocketLayer } from '../../src/net/index.js';
import { ArchiveAnalytics } from '../../src/router/archive-analytics.js';

const A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';

const instances = [
  { name: 'shard-0', flavour: 'mysql', host: '127.0.0.1', port: 13311, user: 'u', password: 'p' },
  { name: 'shard-1', flavour: 'mysql', host: '127.0.0.1', port: 13312, user: 'u', password: 'p' },
];
const archive = { host: '127.0.0.1', port: 13320, user: 'a', password: 'secret', database: 'arch' };

/**
 * A fake archive server: the catalog of `arch`, the views database once created, the progress
 * table once created, and every statement each connection ran.
 */
class FakeArchive {
  readonly log: { conn: number; sql: string; params: readonly unknown[] }[] = [];
  tables = new Map<string, string[]>([['users', ['uid', 'name', '_shard', '_version', '_deleted', '_archived_at']]]);
  views = new Map<string, string[]>();
  viewsDb = false;
  progressTable = false;
  progress: Record<string, unknown>[] = [];
  private next = 1;

  factory = async (): Promise<DbConnection> => {
    const id = this.next++;
    let database: string | null = null;
    const conn: DbConnection = {
      instance: 'archive',
      id,
      socket: null,
      waitTimeoutMs: 28_800_000,
      createdAt: Date.now(),
      broken: false,
      lastUsedAt: Date.now(),
      query: async (sql, params) => {
        this.log.push({ conn: id, sql, params });
        return this.run(
          sql,
          params,
          (db) => (database = db),
          () => database,
        );
      },
      ping: async () => undefined,
      close: async () => undefined,
      destroy: () => undefined,
    };
    return conn;
  };

  private run(sql: string, params: readonly unknown[], use: (db: string) => void, current: () => string | null): QueryOutcome {
    const ok: QueryOutcome = { kind: 'ok', affectedRows: 0, insertId: 0 };
    const rows = (r: Record<string, unknown>[]): QueryOutcome => ({ kind: 'rows', rows: r, fields: [] });
    const error = (errno: number) => new DriverError(`server error ${errno}`, { errno });
    if (sql.startsWith('SET ')) return ok;
    if (sql.startsWith('USE ')) {
      if (!this.viewsDb) throw error(1049);
      use(sql.slice(5, -1));
      return ok;
    }
    if (sql.includes('information_schema.COLUMNS')) {
      const out: Record<string, unknown>[] = [];
      for (const [t, cols] of this.tables) for (const c of cols) out.push({ db: 'arch', tbl: t, col: c, tableType: 'BASE TABLE' });
      for (const [t, cols] of this.views) for (const c of cols) out.push({ db: 'arch_live', tbl: t, col: c, tableType: 'VIEW' });
      return rows(out);
    }
    if (sql.includes('information_schema.SCHEMATA')) return rows(this.viewsDb ? [{ db: params[0] }] : []);
    if (sql.startsWith('CREATE DATABASE IF NOT EXISTS `arch_live`')) {
      this.viewsDb = true;
      return ok;
    }
    const view = /^CREATE OR REPLACE VIEW `arch_live`\.`(\w+)` AS SELECT (.*) FROM/.exec(sql);
    if (view) {
      this.views.set(
        view[1]!,
        view[2]!.split(', ').map((c) => c.slice(1, -1)),
      );
      return ok;
    }
    if (sql.startsWith('CREATE DATABASE IF NOT EXISTS `shardline_meta`')) return ok;
    if (sql.startsWith('CREATE TABLE IF NOT EXISTS `shardline_meta`.`sink_progress`')) {
      this.progressTable = true;
      return ok;
    }
    if (sql.includes('`sink_progress` WHERE sink = ?')) {
      if (!this.progressTable) throw error(1146);
      return rows(this.progress.filter((r) => r['sink'] === params[0]));
    }
    if (sql.startsWith('WITH') && sql.includes('DELETE'))
      throw new DriverError('read only', { errno: 1792, kind: 'transient', retriable: true });
    if (sql.startsWith('SELECT') && current() === 'arch_live') {
      const table = /FROM (\w+)/.exec(sql)?.[1] ?? '';
      const cols = this.views.get(table);
      if (!cols) throw error(1146);
      if (sql.includes('email') && !cols.includes('email')) throw error(1054);
      return rows([{ n: 1n }]);
    }
    throw new Error(`unexpected statement ${sql}`);
  }

  statements(conn?: number): string[] {
    return this.log.filter((l) => conn === undefined || l.conn === conn).map((l) => l.sql);
  }
}

function analytics(fake: FakeArchive, extra: Record<string, unknown> = {}): ArchiveAnalytics {
  const config = parseClusterConfig({ instances, archive, router: { analytics: { pollMs: 5, maxWaitMs: 200 } }, ...extra }, {});
  return new ArchiveAnalytics(config, fake.factory, createJsSocketLayer('test'));
}

describe('router.analytics on a fake archive server', () => {
  it('creates the views, then queries them on read-only sessions whose default database is the views database', async () => {
    const fake = new FakeArchive();
    const a = analytics(fake);
    try {
      await expect(a.query('SELECT COUNT(*) AS n FROM users WHERE name = ?', ['Ada'])).resolves.toEqual([{ n: 1n }]);
      expect(fake.views.get('users')).toEqual(['uid', 'name', '_shard', '_version', '_archived_at']);
      const pooled = fake.log.find((l) => l.sql === 'SET SESSION TRANSACTION READ ONLY')!.conn;
      expect(fake.statements(pooled)).toEqual([
        'SET SESSION TRANSACTION READ ONLY',
        expect.stringContaining('information_schema.COLUMNS'),
        expect.stringContaining('information_schema.SCHEMATA'),
        'USE `arch_live`',
        'SELECT COUNT(*) AS n FROM users WHERE name = ?',
      ]);
      expect(fake.log.at(-1)!.params).toEqual(['Ada']);
      // the DDL ran on a connection of its own, never on a pooled (read-only) one
      const ddl = fake.log.filter((l) => l.sql.startsWith('CREATE'));
      expect(ddl.map((l) => l.conn).every((c) => c !== pooled)).toBe(true);
      expect(fake.statements(ddl[0]!.conn)[0]).toBe('SET SESSION lock_wait_timeout = 5');
      // a second query: no catalog read, no DDL
      const before = fake.log.length;
      await a.query('SELECT COUNT(*) AS n FROM users');
      expect(fake.statements().slice(before)).toEqual(['SELECT COUNT(*) AS n FROM users']);
    } finally {
      await a.close();
    }
  });

  it('makes the views again once when the archive gained a table or a column, then runs the query again', async () => {
    const fake = new FakeArchive();
    const a = analytics(fake);
    try {
      await a.query('SELECT 1 FROM users');
      fake.tables.set('orders', ['uid', 'order_id', '_shard', '_version', '_deleted', '_archived_at']);
      await expect(a.query('SELECT 1 FROM orders')).resolves.toEqual([{ n: 1n }]);
      fake.tables.set('users', ['uid', 'name', 'email', '_shard', '_version', '_deleted', '_archived_at']);
      await expect(a.query('SELECT email FROM users')).resolves.toEqual([{ n: 1n }]);
      expect(fake.views.get('users')).toContain('email');
      // a table the archive does not have: one catalog read, nothing to make, the server's error
      await expect(a.query('SELECT 1 FROM nope')).rejects.toMatchObject({ code: 'QUERY_FAILED', details: { errno: 1146 } });
    } finally {
      await a.close();
    }
  });

  it('waits for the archive sink to apply a token (creating the progress table), else SINK_BEHIND', async () => {
    const fake = new FakeArchive();
    const a = analytics(fake);
    const token = `w1~shard-0=${A}:7`;
    try {
      await expect(a.query('SELECT 1 FROM users', [], { after: token, maxWaitMs: 30 })).rejects.toMatchObject({
        code: 'SINK_BEHIND',
        retriable: true,
        details: { sink: 'archive', instances: [{ instance: 'shard-0', why: 'no-progress', lagMs: null }] },
      });
      expect(fake.progressTable).toBe(true);
      const now = Date.now() * 1000;
      const published = { instance: 'shard-0', flavour: 'mysql', source_ts_us: now, caught_up: 0, checked_at_us: now };
      fake.progress = [{ ...published, sink: 'shardline-archive', gtid_set: `${A}:1-6` }];
      setTimeout(() => (fake.progress = [{ ...published, sink: 'shardline-archive', gtid_set: `${A}:1-7` }]), 20);
      await expect(a.query('SELECT 1 FROM users', [], { after: token })).resolves.toEqual([{ n: 1n }]);
      // router.indexed reads the same table for another sink
      await expect(a.indexed(token, { maxWaitMs: 20 })).rejects.toMatchObject({ code: 'SINK_BEHIND', details: { sink: 'elasticsearch' } });
      fake.progress.push({ ...published, sink: 'shardline-elasticsearch', gtid_set: `${A}:1-9` });
      await expect(a.indexed([token, `w1~shard-0=${A}:9`])).resolves.toBeUndefined();
      await expect(a.indexed('')).resolves.toBeUndefined();
      await expect(a.indexed('nope')).rejects.toMatchObject({ code: 'TOKEN_INVALID' });
      // maxStalenessMs: every configured instance within the bound (shard-1 publishes nothing)
      await expect(a.query('SELECT 1 FROM users', [], { maxStalenessMs: 60_000, maxWaitMs: 0 })).rejects.toMatchObject({
        code: 'SINK_BEHIND',
        details: { instances: [{ instance: 'shard-1', why: 'no-progress' }] },
      });
    } finally {
      await a.close();
    }
  });

  it('health(): null until the pool opens, then the archive pool like an instance of router.health(), null after close', async () => {
    const fake = new FakeArchive();
    const a = analytics(fake, { pool: { max: 8 }, router: { analytics: { pollMs: 5, maxWaitMs: 200, poolSize: 3 } } });
    expect(a.health()).toBeNull();
    await a.query('SELECT COUNT(*) AS n FROM users');
    expect(a.health()).toEqual({
      name: 'archive',
      host: '127.0.0.1',
      port: 13320,
      breaker: 'closed',
      pool: { instance: 'archive', size: 1, available: 1, borrowed: 0, pending: 0, max: 3 },
      tcp: null,
      events: expect.any(Object),
    });
    await a.close();
    expect(a.health()).toBeNull();
  });

  it('refuses writes, bad options, a config without archive, and calls after close', async () => {
    const fake = new FakeArchive();
    const a = analytics(fake);
    await expect(a.query('UPDATE users SET name = ?', ['x'])).rejects.toMatchObject({ code: 'SQL_UNSUPPORTED' });
    await expect(a.query('SELECT 1', [], { maxWaitMs: -1 })).rejects.toMatchObject({ code: 'SQL_UNSUPPORTED' });
    await expect(a.indexed('', { sink: 'kafka' as never })).rejects.toMatchObject({ code: 'SQL_UNSUPPORTED' });
    expect(fake.log).toEqual([]);
    // what gets past the statement check and would write is refused by the read-only session: not retriable
    await expect(a.query('WITH x AS (SELECT 1) DELETE FROM users')).rejects.toMatchObject({
      code: 'SQL_UNSUPPORTED',
      retriable: false,
      message: expect.stringContaining('read-only'),
    });
    await a.close();
    await expect(a.query('SELECT 1')).rejects.toMatchObject({ code: 'ROUTER_CLOSED' });
    const bare = new ArchiveAnalytics(parseClusterConfig({ instances }, {}), fake.factory, createJsSocketLayer('test'));
    await expect(bare.query('SELECT 1')).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('`archive` section'),
    });
    await expect(bare.indexed(`w1~shard-0=${A}:1`)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await bare.close();
  });

  it('the views database defaults to <archive.database>_live and must differ from the archive and meta databases', () => {
    expect(() => parseClusterConfig({ instances, archive, router: { analytics: { viewsDatabase: 'arch' } } }, {})).toThrow(
      /router\.analytics\.viewsDatabase.*must differ/,
    );
    expect(() => parseClusterConfig({ instances, archive: { ...archive, database: 'x'.repeat(62) } }, {})).toThrow(/longer than 64/);
    const config = parseClusterConfig({ instances }, {});
    expect(config.router.analytics).toEqual({ pollMs: 20, maxWaitMs: 10_000, poolSize: 4 });
  });

  it('the current-views database is checked like the views database and must differ from it', () => {
    expect(() => parseClusterConfig({ instances, archive, router: { analytics: { currentViewsDatabase: 'arch' } } }, {})).toThrow(
      /router\.analytics\.currentViewsDatabase.*must differ/,
    );
    expect(() =>
      parseClusterConfig({ instances, archive, router: { analytics: { viewsDatabase: 'v1', currentViewsDatabase: 'v1' } } }, {}),
    ).toThrow(/currentViewsDatabase "v1" must differ from the views database/);
    expect(() => parseClusterConfig({ instances, archive, router: { analytics: { currentViewsDatabase: 'a;b' } } }, {})).toThrow(
      /currentViewsDatabase/,
    );
    const ok = parseClusterConfig({ instances, archive, router: { analytics: { currentViewsDatabase: 'now_rows' } } }, {});
    expect(ok.router.analytics.currentViewsDatabase).toBe('now_rows');
  });
});
