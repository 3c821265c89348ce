import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import { ConfigError, ReshardError } from '../../src/errors/index.js';
import { catchUpStatements, checksumSql, parseShardList, shardListText } from '../../src/reshard/index.js';
import { fencedName, movedTables } from '../../src/reshard/moved-tables.js';
import { batchedRangeSums } from '../../src/reshard/verify-tables.js';
import { FENCE_EVENTS, fenceTriggerName, fenceTriggerSql } from '../../src/reshard/write-fence.js';
import { finalChecks } from '../../src/reshard/move-runner.js';
import type { TouchedRows } from '../../src/reshard/catch-up.js';
import type { RawRowSession } from '../../src/net/index.js';
import { MOVE_FENCE_SQLSTATE, ShardMap, Topology } from '../../src/shard/index.js';

const config = loadClusterConfig(bundledClusterConfig, {});
const topology = () =>
  new Topology(
    config.sharding,
    config.instances.map((i) => i.name),
  );

describe('shard lists', () => {
  it('parses ranges and single shards, sorted and distinct', () => {
    expect(parseShardList('768-771', 1024)).toEqual([768, 769, 770, 771]);
    expect(parseShardList('9, 0-2,1', 1024)).toEqual([0, 1, 2, 9]);
    expect(shardListText([0, 1, 2, 9, 11, 12])).toBe('0-2,9,11-12');
  });

  it.each(['', '5-3', '1024', '0-1024', 'a', '1;DROP', '1-2-3', '-1', '99999999'])('refuses %j', (text) => {
    expect(parseShardList(text, 1024)).toBeNull();
  });
});

describe('shard map versions', () => {
  it('reassigns shards into a new version and round-trips through the published JSON', () => {
    const map = topology().map;
    const next = map.reassign([768, 769, 1023], 'shard-4');
    expect(next.version).toBe(map.version + 1);
    expect([767, 768, 769, 770, 1022, 1023].map((s) => next.instanceOf(s))).toEqual([
      'shard-2',
      'shard-4',
      'shard-4',
      'shard-3',
      'shard-3',
      'shard-4',
    ]);
    expect(map.instanceOf(768)).toBe('shard-3');
    const back = ShardMap.fromJson(next.version, 1024, next.toJson());
    for (let s = 0; s < 1024; s++) expect(back.instanceOf(s)).toBe(next.instanceOf(s));
  });

  it.each(['{}', '[{"from":0,"to":10,"instance":"a"}]', 'not json', '[{"from":0,"to":1023}]', '[{"from":-1,"to":1023,"instance":"a"}]'])(
    'refuses a published map that is not a complete map: %s',
    (json) => {
      expect(() => ShardMap.fromJson(2, 1024, json)).toThrow(ConfigError);
    },
  );

  it('a topology adopts only a later version of the same shard count', () => {
    const t = topology();
    const v2 = t.map.reassign([5], 'shard-4');
    expect(t.adoptMap(v2)).toBe(true);
    expect(t.map.instanceOf(0)).toBe('shard-0');
    expect(t.map.instanceOf(5)).toBe('shard-4');
    expect(t.adoptMap(v2)).toBe(false);
    expect(t.adoptMap(topology().map)).toBe(false);
    expect(t.adoptMap(new ShardMap(9, 512, [{ from: 0, to: 511, instance: 'shard-0' }]))).toBe(false);
    expect(t.map.version).toBe(v2.version);
    // a map naming an instance outside the config (another cluster's, on a shared server)
    expect(t.adoptMap(t.map.reassign([7], 'victim'))).toBe(false);
    expect(t.map.instanceOf(7)).toBe('shard-0');
    // every configured instance, the one without shards too
    expect(t.instances).toEqual(['shard-0', 'shard-1', 'shard-2', 'shard-3', 'shard-4']);
  });
});

describe('moved tables', () => {
  it('names every sharded table of each moving shard, and its fenced name', () => {
    expect(movedTables(topology(), [768, 831]).map((t) => t.key)).toEqual([
      'app_12.orders_0768',
      'app_12.users_0768',
      'app_12.orders_0831',
      'app_12.users_0831',
    ]);
    expect(fencedName('users_0768')).toBe('_moved_users_0768');
  });
});

const users = {
  table: 'users',
  primaryKey: ['uid'],
  columns: [
    { name: 'uid', dataType: 'bigint', columnType: 'bigint unsigned', nullable: false, charset: null },
    { name: 'name', dataType: 'varchar', columnType: 'varchar(100)', nullable: false, charset: 'utf8mb4' },
    { name: 'balance', dataType: 'decimal', columnType: 'decimal(18,2)', nullable: false, charset: null },
    { name: 'created_at', dataType: 'datetime', columnType: 'datetime(6)', nullable: false, charset: null },
  ],
};
const table = movedTables(topology(), [768]).find((t) => t.logical === 'users')!;

describe('catch-up statements', () => {
  const row = (uid: bigint, name: string) => ({ uid, name, balance: '1.50', created_at: '2026-01-02 03:04:05.000006' });

  it('an insert or update is a full-row REPLACE with bound values; a delete a DELETE by key', () => {
    const ins = catchUpStatements(table, users, 'c', { before: null, after: row(9007199254740993n, "O'Brien; DROP TABLE x") });
    expect(ins).toEqual([
      {
        sql: 'REPLACE INTO `app_12`.`users_0768` (`uid`, `name`, `balance`, `created_at`) VALUES (?, ?, ?, ?)',
        params: [9007199254740993n, "O'Brien; DROP TABLE x", '1.50', '2026-01-02 03:04:05.000006'],
      },
    ]);
    expect(catchUpStatements(table, users, 'd', { before: row(7n, 'x'), after: null })).toEqual([
      { sql: 'DELETE FROM `app_12`.`users_0768` WHERE `uid` = ?', params: [7n] },
    ]);
    expect(catchUpStatements(table, users, 'u', { before: row(7n, 'x'), after: row(7n, 'y') })).toHaveLength(1);
  });

  it('an update that changes the key deletes the old key first', () => {
    const out = catchUpStatements(table, users, 'u', { before: row(7n, 'x'), after: row(8n, 'x') });
    expect(out.map((s) => s.sql.split(' ')[0])).toEqual(['DELETE', 'REPLACE']);
    expect(out[0]!.params).toEqual([7n]);
  });

  it('a column the move does not know (DDL during the move) stops the catch-up with a typed error', () => {
    expect(() => catchUpStatements(table, users, 'c', { before: null, after: { ...row(1n, 'a'), extra: 1 } })).toThrow(ReshardError);
  });
});

describe('verify checksums', () => {
  it('hashes every column with its NULL flag over a key range, values bound', () => {
    const q = checksumSql(table, users, '_moved_users_0768', [5n], [9n]);
    expect(q.sql).toContain('FROM `app_12`.`_moved_users_0768` WHERE ((`uid` > ?)) AND NOT ((`uid` > ?))');
    expect(q.sql).toContain("CONCAT_WS('#', ISNULL(`uid`), `uid`, ISNULL(`name`), `name`");
    expect(q.params).toEqual([5n, 9n]);
    const composite = checksumSql(table, { ...users, primaryKey: ['uid', 'name'] }, 't', ['1', 'b'], null);
    expect(composite.sql).toContain('WHERE ((`uid` > ?) OR (`uid` = ? AND `name` > ?))');
    expect(composite.params).toEqual(['1', '1', 'b']);
  });
});

describe('fence checksums in parallel', () => {
  it('sends the statements as UNION ALL batches over the sessions at once and returns the sums in the order of the statements', async () => {
    let running = 0;
    let most = 0;
    const used = new Set<string>();
    const sent: string[] = [];
    const session = (name: string) =>
      ({
        async query(sql: string, params: unknown[]) {
          used.add(name);
          sent.push(sql);
          running++;
          most = Math.max(most, running);
          const parts = [...sql.matchAll(/SELECT (\d+) AS i, q\.n, q\.x FROM \(SELECT (\d+) FROM t WHERE k = \?\) AS q/g)];
          await new Promise((r) => setTimeout(r, parts.length));
          running--;
          // each part's one bound value comes back as its checksum: the params line up with the parts
          return parts.map((m, j) => ({ i: m[1], n: Number(m[2]), x: `sum-${String(params[j])}` }));
        },
      }) as unknown as RawRowSession;
    const queries = Array.from({ length: 100 }, (_, i) => ({ sql: `SELECT ${i} FROM t WHERE k = ?`, params: [`p${i}`] }));
    const sums = await batchedRangeSums([session('a'), session('b'), session('c')], queries);
    expect(sums).toEqual(queries.map((_, i) => ({ rows: i, checksum: `sum-p${i}` })));
    expect(most).toBe(3);
    expect(used).toEqual(new Set(['a', 'b', 'c']));
    expect(sent.length).toBeLessThanOrEqual(6);
    expect(sent[0]).toContain(' UNION ALL ');
  });
});

describe('the write fence', () => {
  it('a trigger per event reads the fence row with a locking read and fails with the fence SQLSTATE', () => {
    const my = fenceTriggerSql('mysql', 'shardline_meta', 'move-abc-768-831', table, 'UPDATE');
    expect(my).toContain('CREATE TRIGGER IF NOT EXISTS `app_12`.`_sl_fence_u_users_0768`');
    expect(my).toContain('BEFORE UPDATE ON `app_12`.`users_0768` FOR EACH ROW');
    expect(my).toContain("FROM `shardline_meta`.`reshard_fence` AS f WHERE f.move = 'move-abc-768-831' FOR SHARE;");
    expect(my).toContain(`SIGNAL SQLSTATE '${MOVE_FENCE_SQLSTATE}'`);
    // the handler that makes an unreadable row fence is scoped to the read, not to the SIGNAL
    expect(my.indexOf('END;')).toBeGreaterThan(my.indexOf('DECLARE CONTINUE HANDLER'));
    expect(my.indexOf('END;')).toBeLessThan(my.indexOf('SIGNAL'));
    expect(fenceTriggerSql('mariadb', 'm', 'x', table, 'DELETE')).toContain('LOCK IN SHARE MODE SKIP LOCKED;');
  });

  it('refuses a move id that is not plain text (it is a literal in the trigger)', () => {
    expect(() => fenceTriggerSql('mysql', 'm', "x'; DROP TABLE t; --", table, 'INSERT')).toThrow(ReshardError);
    expect(() => fenceTriggerSql('mysql', 'm', '', table, 'INSERT')).toThrow(ReshardError);
  });

  it('trigger names are distinct per table and event and fit in 64 characters', () => {
    const long = 'x'.repeat(64);
    const names = FENCE_EVENTS.flatMap((e) => [
      fenceTriggerName('users_0768', e),
      fenceTriggerName(long, e),
      fenceTriggerName(`${long.slice(1)}y`, e),
    ]);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n.length).toBeLessThanOrEqual(64);
  });
});

describe('the final check inside the fence', () => {
  const tables = movedTables(topology(), [768, 769]);
  const schemas = new Map([
    ['users', users],
    ['orders', { ...users, table: 'orders', primaryKey: ['uid', 'name'] }],
  ]);

  it('without tracking (a resumed move) checks every table whole', () => {
    const checks = finalChecks(tables, schemas, null);
    expect(checks.map((c) => c.table.key)).toEqual(tables.map((t) => t.key));
    expect(checks.every((c) => !c.sql.sql.includes('WHERE'))).toBe(true);
  });

  it('with tracking checks only the rows changed since verify, a table past the bound whole, an untouched table not at all', () => {
    // in shard then table order: orders_0768 (key uid, name), users_0768, orders_0769, users_0769
    expect(tables.map((t) => t.table)).toEqual(['orders_0768', 'users_0768', 'orders_0769', 'users_0769']);
    const touched: TouchedRows = new Map([
      [tables[0]!.key, { keys: new Map([['c', [1n, 'n']]]), whole: false }],
      [tables[1]!.key, { keys: new Map(), whole: true }],
      [
        tables[3]!.key,
        {
          keys: new Map([
            ['a', [5n]],
            ['b', [9n]],
          ]),
          whole: false,
        },
      ],
    ]);
    const checks = finalChecks(tables, schemas, touched);
    expect(checks.map((c) => c.table.key)).toEqual([tables[0]!.key, tables[1]!.key, tables[3]!.key]);
    expect(checks[0]!.sql.sql).toContain('WHERE (`uid`, `name`) IN ((?, ?))');
    expect(checks[0]!.sql.params).toEqual([1n, 'n']);
    expect(checks[1]!.sql.sql).not.toContain('WHERE');
    expect(checks[2]!.sql.sql).toContain('FROM `app_12`.`users_0769` WHERE `uid` IN (?, ?)');
    expect(checks[2]!.sql.params).toEqual([5n, 9n]);
  });

  it('splits many changed keys over several statements', () => {
    const keys = new Map(Array.from({ length: 1200 }, (_, i) => [String(i), [BigInt(i)]] as [string, unknown[]]));
    const checks = finalChecks(tables.slice(1, 2), schemas, new Map([[tables[1]!.key, { keys, whole: false }]]));
    expect(checks.map((c) => c.sql.params.length)).toEqual([500, 500, 200]);
  });
});
