import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import { ConfigError, ReshardError } from '../../src/errors/index.js';
import { catchUpStatements, checksumSql, parseShardList, shardListText } from '../../src/reshard/index.js';
import { fencedName, movedTables } from '../../src/reshard/moved-tables.js';
import { rangeSums } from '../../src/reshard/verify-tables.js';
import type { RawRowSession } from '../../src/net/index.js';
import { ShardMap, Topology } from '../../src/shard/index.js';

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
  it('runs one statement per session at a time and returns the sums in the order of the statements', async () => {
    let running = 0;
    let most = 0;
    const used = new Set<string>();
    const session = (name: string) =>
      ({
        async query(sql: string) {
          used.add(name);
          running++;
          most = Math.max(most, running);
          await new Promise((r) => setTimeout(r, Number(sql) % 7));
          running--;
          return [{ n: Number(sql), x: `sum-${sql}` }];
        },
      }) as unknown as RawRowSession;
    const queries = Array.from({ length: 23 }, (_, i) => ({ sql: String(i), params: [] }));
    const sums = await rangeSums([session('a'), session('b'), session('c')], queries);
    expect(sums).toEqual(queries.map((_, i) => ({ rows: i, checksum: `sum-${i}` })));
    expect(most).toBe(3);
    expect(used).toEqual(new Set(['a', 'b', 'c']));
  });
});
