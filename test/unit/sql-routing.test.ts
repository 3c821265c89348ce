import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import { RoutingError, SqlParseError, type ShardlineError } from '../../src/errors/index.js';
import { Topology } from '../../src/shard/index.js';
import { analyze, plan, PlanCache, type PlanOptions, type SqlParam } from '../../src/sql/index.js';

const config = loadClusterConfig(bundledClusterConfig, {});
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
// From schemas/shard-hash-vectors.json (MySQL CRC32): uid 1 → 951, 2 → 525, 42 → 136, 0 → 801.
const route = (sql: string, params: SqlParam[] = [], options: PlanOptions = {}) => plan(analyze(sql, topology), params, topology, options);

function failure(fn: () => unknown): ShardlineError {
  try {
    fn();
  } catch (err) {
    return err as ShardlineError;
  }
  throw new Error('expected an error');
}

describe('single-shard routing', () => {
  it.each<[string, SqlParam[], number, string, string]>([
    ['SELECT name FROM users WHERE uid = ?', [42], 136, 'shard-0', 'SELECT name FROM `app_02`.`users_0136` WHERE uid = ?'],
    ['SELECT name FROM users WHERE uid = 42', [], 136, 'shard-0', 'SELECT name FROM `app_02`.`users_0136` WHERE uid = 42'],
    ["SELECT name FROM users WHERE uid = '42'", [], 136, 'shard-0', "SELECT name FROM `app_02`.`users_0136` WHERE uid = '42'"],
    ['select name from `users` where ? = uid', [1n], 951, 'shard-3', 'select name from `app_14`.`users_0951` where ? = uid'],
    [
      'SELECT * FROM users WHERE name = ? AND uid = ? AND email IS NULL',
      ['x', '2'],
      525,
      'shard-2',
      'SELECT * FROM `app_08`.`users_0525` WHERE name = ? AND uid = ? AND email IS NULL',
    ],
    [
      'SELECT users.name FROM users WHERE users.uid = ?',
      [2],
      525,
      'shard-2',
      'SELECT `app_08`.`users_0525`.name FROM `app_08`.`users_0525` WHERE `app_08`.`users_0525`.uid = ?',
    ],
    [
      "SELECT u.name, o.amount FROM users u JOIN orders AS o ON o.uid = u.uid WHERE u.uid = ? AND o.status = 'paid'",
      [1],
      951,
      'shard-3',
      "SELECT u.name, o.amount FROM `app_14`.`users_0951` u JOIN `app_14`.`orders_0951` AS o ON o.uid = u.uid WHERE u.uid = ? AND o.status = 'paid'",
    ],
    [
      'UPDATE users SET name = ?, updated_at = NOW(6) WHERE uid = ?',
      ['n', 42],
      136,
      'shard-0',
      'UPDATE `app_02`.`users_0136` SET name = ?, updated_at = NOW(6) WHERE uid = ?',
    ],
    [
      'DELETE FROM orders WHERE uid = ? AND order_id = ?',
      [0, 9],
      801,
      'shard-3',
      'DELETE FROM `app_12`.`orders_0801` WHERE uid = ? AND order_id = ?',
    ],
    [
      'INSERT INTO users (uid, name) VALUES (?, ?)',
      [42, 'Ada'],
      136,
      'shard-0',
      'INSERT INTO `app_02`.`users_0136` (uid, name) VALUES (?, ?)',
    ],
    [
      'SELECT c.name FROM users u JOIN countries c ON c.code = u.email WHERE u.uid = ?',
      [42],
      136,
      'shard-0',
      'SELECT c.name FROM `app_02`.`users_0136` u JOIN `app_global`.`countries` c ON c.code = u.email WHERE u.uid = ?',
    ],
    [
      "SELECT name FROM users WHERE uid = ? -- uid = 'comment'",
      [42],
      136,
      'shard-0',
      'SELECT name FROM `app_02`.`users_0136` WHERE uid = ?',
    ],
    ['SELECT name FROM users WHERE uid = ?;', [42], 136, 'shard-0', 'SELECT name FROM `app_02`.`users_0136` WHERE uid = ?'],
    [
      "SELECT 'users ? text', name FROM users WHERE uid = ?",
      [42],
      136,
      'shard-0',
      "SELECT 'users ? text', name FROM `app_02`.`users_0136` WHERE uid = ?",
    ],
    [
      'SELECT name FROM users WHERE uid = ? AND uid IN (SELECT uid FROM orders WHERE amount > ?)',
      [2, 0],
      525,
      'shard-2',
      'SELECT name FROM `app_08`.`users_0525` WHERE uid = ? AND uid IN (SELECT uid FROM `app_08`.`orders_0525` WHERE amount > ?)',
    ],
  ])('%s', (sql, params, shard, instance, physical) => {
    const p = route(sql, params);
    expect(p.kind).toBe('single');
    expect(p.shards).toEqual([shard]);
    expect(p.targets).toEqual([{ instance, shards: [shard], sql: physical, params }]);
  });
});

describe('multi-shard routing', () => {
  it('groups an IN list per shard and batches per instance', () => {
    const p = route('SELECT uid, name FROM users WHERE uid IN (?, ?, ?)', [1, 2, 42]);
    expect(p.kind).toBe('multi');
    expect(p.shards).toEqual([136, 525, 951]);
    expect(p.targets.map((t) => [t.instance, t.shards])).toEqual([
      ['shard-0', [136]],
      ['shard-2', [525]],
      ['shard-3', [951]],
    ]);
    expect(p.merge).toEqual({ kind: 'concat', limit: null });
  });

  it('splits a multi-row INSERT per shard with each row keeping its own values', () => {
    const p = route('INSERT INTO users (uid, name) VALUES (?, ?), (?, ?), (2, ?) ON DUPLICATE KEY UPDATE name = ?', [
      1,
      'a',
      42,
      'b',
      'c',
      'z',
    ]);
    expect(p.kind).toBe('multi');
    expect(p.targets).toEqual([
      {
        instance: 'shard-0',
        shards: [136],
        sql: 'INSERT INTO `app_02`.`users_0136` (uid, name) VALUES (?, ?) ON DUPLICATE KEY UPDATE name = ?',
        params: [42, 'b', 'z'],
      },
      {
        instance: 'shard-2',
        shards: [525],
        sql: 'INSERT INTO `app_08`.`users_0525` (uid, name) VALUES (2, ?) ON DUPLICATE KEY UPDATE name = ?',
        params: ['c', 'z'],
      },
      {
        instance: 'shard-3',
        shards: [951],
        sql: 'INSERT INTO `app_14`.`users_0951` (uid, name) VALUES (?, ?) ON DUPLICATE KEY UPDATE name = ?',
        params: [1, 'a', 'z'],
      },
    ]);
  });

  it('keeps rows of the same shard together in one INSERT', () => {
    const p = route('INSERT INTO orders (uid, order_id) VALUES (?, ?), (?, ?)', [42, 1, 42, 2]);
    expect(p.kind).toBe('single');
    expect(p.targets[0]!.sql).toBe('INSERT INTO `app_02`.`orders_0136` (uid, order_id) VALUES (?, ?), (?, ?)');
  });
});

describe('scatter', () => {
  it('is refused without opt-in, naming the table and the missing column', () => {
    const err = failure(() => route('SELECT * FROM users WHERE name = ?', ['x']));
    expect(err).toBeInstanceOf(RoutingError);
    expect(err.code).toBe('SHARD_KEY_MISSING');
    expect(err.message).toMatch(/sharded table users: add `uid = \?`/);
    expect(err.details).toEqual({ table: 'users', column: 'uid' });
  });

  it('routes on a key predicate of a subquery only through a semi-join on the shard key', () => {
    expect(route('SELECT name FROM users WHERE uid IN (SELECT uid FROM orders WHERE uid = ?)', [2]).shards).toEqual([525]);
    expect(failure(() => route('SELECT name FROM users WHERE name IN (SELECT name FROM orders WHERE uid = ?)', [2])).code).toBe(
      'SHARD_KEY_MISSING',
    );
  });

  it('refuses a key predicate under OR (it does not pin one shard)', () => {
    expect(failure(() => route('SELECT * FROM users WHERE uid = ? OR name = ?', [1, 'x'])).code).toBe('SHARD_KEY_MISSING');
  });

  it('sends one UNION ALL round trip per instance covering all 1024 shards', () => {
    const p = route('SELECT COUNT(*) AS n FROM users', [], { scatter: true });
    expect(p.kind).toBe('scatter');
    expect(p.targets).toHaveLength(4);
    expect(p.targets.map((t) => t.shards.length)).toEqual([256, 256, 256, 256]);
    expect(p.targets[0]!.sql.split(' UNION ALL ')).toHaveLength(256);
    expect(
      p.targets[0]!.sql.startsWith(
        'SELECT CAST(SUM(__shardline_a0) AS SIGNED) AS __shardline_a0 FROM ((SELECT COUNT(*) AS __shardline_a0 FROM `app_00`.`users_0000`) UNION ALL (SELECT COUNT(*) AS __shardline_a0 FROM `app_00`.`users_0001`)',
      ),
    ).toBe(true);
    expect(p.targets[0]!.sql.endsWith('`users_0255`)) AS `__shardline`')).toBe(true);
    expect(p.merge).toMatchObject({ kind: 'grouped', spec: { keys: 0, partials: ['count'], outputs: [{ name: 'n' }] } });
  });

  it('chunks very long unions', () => {
    const p = route('SELECT uid FROM users WHERE name = ?', ['x'], { scatter: true, unionChunk: 100 });
    expect(p.targets).toHaveLength(12);
    expect(p.targets[0]!.params).toHaveLength(100);
  });

  it('wraps ORDER BY … LIMIT per instance for a k-way merge', () => {
    const p = route('SELECT uid, balance FROM users ORDER BY balance DESC, uid LIMIT 10', [], { scatter: true });
    expect(p.merge).toEqual({
      kind: 'sorted',
      orderBy: [
        { column: 'balance', desc: true, weight: '__shardline_w0', collation: '__shardline_c0' },
        { column: 'uid', desc: false, weight: '__shardline_w1', collation: '__shardline_c1' },
      ],
      limit: 10,
      offset: 0,
    });
    expect(p.targets[0]!.sql).toMatch(
      /^SELECT \* FROM \(\(SELECT uid, balance, CAST\(WEIGHT_STRING\(balance\) AS BINARY\) AS __shardline_w0, COLLATION\(balance\) AS __shardline_c0, CAST\(WEIGHT_STRING\(uid\) AS BINARY\) AS __shardline_w1, COLLATION\(uid\) AS __shardline_c1 FROM `app_00`.`users_0000` ORDER BY balance DESC, uid LIMIT 10\) UNION ALL .* AS `__shardline` ORDER BY `balance` DESC, `uid` LIMIT 10$/,
    );
  });

  it('sorts by a quoted column with a backtick in its name under the name the server returns', () => {
    const p = route('SELECT uid, `we``ird` FROM users ORDER BY `we``ird` DESC LIMIT 3', [], { scatter: true });
    expect(p.merge).toEqual({
      kind: 'sorted',
      orderBy: [{ column: 'we`ird', desc: true, weight: '__shardline_w0', collation: '__shardline_c0' }],
      limit: 3,
      offset: 0,
    });
    expect(p.targets[0]!.sql.endsWith(' AS `__shardline` ORDER BY `we``ird` DESC LIMIT 3')).toBe(true);
    const aliased = route('SELECT uid, name AS `a``b` FROM users ORDER BY `a``b` LIMIT 3', [], { scatter: true });
    expect(aliased.merge).toEqual({
      kind: 'sorted',
      orderBy: [{ column: 'a`b', desc: false, weight: '__shardline_w0', collation: '__shardline_c0' }],
      limit: 3,
      offset: 0,
    });
  });

  it('takes LIMIT from a placeholder', () => {
    expect(route('SELECT uid FROM users ORDER BY uid LIMIT ?', [5], { scatter: true }).merge).toEqual({
      kind: 'sorted',
      orderBy: [{ column: 'uid', desc: false, weight: '__shardline_w0', collation: '__shardline_c0' }],
      limit: 5,
      offset: 0,
    });
  });

  it('sends OFFSET + LIMIT rows per shard and skips OFFSET in the merge, up to maxOffset', () => {
    const p = route('SELECT uid FROM users ORDER BY uid LIMIT 10 OFFSET ?', [20], { scatter: true });
    expect(p.merge).toEqual({
      kind: 'sorted',
      orderBy: [{ column: 'uid', desc: false, weight: '__shardline_w0', collation: '__shardline_c0' }],
      limit: 10,
      offset: 20,
    });
    expect(p.targets[0]!.sql).toMatch(
      /^SELECT \* FROM \(\(SELECT uid, CAST\(WEIGHT_STRING\(uid\) AS BINARY\) AS __shardline_w0, COLLATION\(uid\) AS __shardline_c0 FROM `app_00`.`users_0000` ORDER BY uid LIMIT 30\) UNION ALL /,
    );
    expect(p.targets[0]!.sql.endsWith('ORDER BY `uid` LIMIT 30')).toBe(true);
    expect(p.targets[0]!.params).toEqual([]);
    const over = failure(() => route('SELECT uid FROM users ORDER BY uid LIMIT 10 OFFSET 10001', [], { scatter: true }));
    expect([over.code, over.message]).toEqual(['SQL_UNSUPPORTED', expect.stringContaining('router.scatter.maxOffset (10000)')]);
    expect(route('SELECT uid FROM users ORDER BY uid LIMIT 1, 3', [], { scatter: true, maxOffset: 1 }).merge).toMatchObject({
      offset: 1,
      limit: 3,
    });
  });

  it('splits GROUP BY / HAVING / AVG / COUNT(DISTINCT) into partial groups per shard', () => {
    const p = route(
      'SELECT status, AVG(balance) AS a, COUNT(DISTINCT name) FROM users WHERE balance > ? GROUP BY status HAVING COUNT(*) > ? ORDER BY a DESC LIMIT 5',
      [10, 2],
      { scatter: true },
    );
    const [head, firstPart] = p.targets[0]!.sql.split(' FROM ((');
    expect(head).toBe(
      'SELECT __shardline_g0, __shardline_gw0, __shardline_gc0, __shardline_d0, __shardline_dw0, __shardline_dc0, SUM(__shardline_a0) AS __shardline_a0, ' +
        'CAST(SUM(__shardline_a1) AS SIGNED) AS __shardline_a1, CAST(SUM(__shardline_a2) AS SIGNED) AS __shardline_a2',
    );
    expect(p.targets[0]!.sql).toMatch(
      /\) AS `__shardline` GROUP BY __shardline_g0, __shardline_gw0, __shardline_gc0, __shardline_d0, __shardline_dw0, __shardline_dc0$/,
    );
    expect(`(${firstPart!.split(' UNION ALL ')[0]}`).toBe(
      '(SELECT status AS __shardline_g0, CAST(WEIGHT_STRING(status) AS BINARY) AS __shardline_gw0, COLLATION(status) AS __shardline_gc0, ' +
        'name AS __shardline_d0, CAST(WEIGHT_STRING(name) AS BINARY) AS __shardline_dw0, COLLATION(name) AS __shardline_dc0, ' +
        'SUM(balance) AS __shardline_a0, COUNT(balance) AS __shardline_a1, COUNT(*) AS __shardline_a2 FROM `app_00`.`users_0000` WHERE balance > ? GROUP BY 1, 2, 3, 4, 5, 6)',
    );
    expect(p.targets[0]!.params.slice(0, 2)).toEqual([10, 10]);
    expect(p.merge).toMatchObject({
      kind: 'grouped',
      params: [10, 2],
      limit: 5,
      offset: 0,
      spec: {
        keys: 1,
        distincts: 1,
        partials: ['sum', 'count', 'count'],
        outputs: [
          { name: 'status', value: { kind: 'key', index: 0 } },
          { name: 'a', value: { kind: 'avg', sum: 0, count: 1 } },
          { name: 'COUNT(DISTINCT name)', value: { kind: 'count-distinct', distinct: 0 } },
        ],
        having: {
          op: 'binary',
          operator: '>',
          left: { op: 'value', value: { kind: 'agg', fn: 'count', partial: 2 } },
          right: { op: 'param', index: 1 },
        },
        orderBy: [{ value: { kind: 'avg', sum: 0, count: 1 }, desc: true }],
      },
    });
  });

  it('treats SELECT DISTINCT as a GROUP BY of its columns', () => {
    const p = route('SELECT DISTINCT status, name FROM users ORDER BY 2', [], { scatter: true });
    expect(p.merge).toMatchObject({ kind: 'grouped', spec: { keys: 2, partials: [], orderBy: [{ value: { kind: 'key', index: 1 } }] } });
    expect(p.targets[0]!.sql).toContain('GROUP BY 1, 2, 3, 4, 5, 6)');
  });

  it.each([
    ['SELECT name, COUNT(*) + 1 FROM users GROUP BY name', /expression over aggregates/],
    ['SELECT name, balance FROM users GROUP BY name', /neither a GROUP BY expression nor one aggregate/],
    ['SELECT GROUP_CONCAT(name) FROM users', /GROUP_CONCAT\(\) across shards/],
    ['SELECT name, COUNT(*) FROM users GROUP BY name WITH ROLLUP', /WITH ROLLUP/],
    ["SELECT name, COUNT(*) FROM users GROUP BY name HAVING name = 'x'", /HAVING on text values/],
    ['SELECT name, COUNT(*) FROM users GROUP BY name HAVING EXISTS (SELECT 1)', /HAVING across shards/],
    ['SELECT * FROM users GROUP BY uid', /SELECT \* with GROUP BY/],
    ['SELECT uid, RANK() OVER (ORDER BY uid) FROM users', /window functions/],
    ['SELECT name FROM users ORDER BY LENGTH(name) LIMIT 3', /ORDER BY on an expression/],
  ])('refuses %s with a clear error', (sql, message) => {
    const err = failure(() => route(sql, [], { scatter: true }));
    expect(err.code).toBe('SQL_UNSUPPORTED');
    expect(err.message).toMatch(message);
  });

  it('runs a scatter write on every shard', () => {
    const p = route('UPDATE users SET email = NULL WHERE email = ?', ['x'], { scatter: true });
    expect(p.targets).toHaveLength(1024);
    expect(p.merge).toEqual({ kind: 'sum-affected' });
  });
});

describe('broadcast tables', () => {
  it('reads from one instance, rotating', () => {
    const a = route('SELECT * FROM countries WHERE code = ?', ['DE'], { readInstance: 0 });
    const b = route('SELECT * FROM countries WHERE code = ?', ['DE'], { readInstance: 1 });
    expect(a.kind).toBe('broadcast');
    expect(a.targets.map((t) => t.instance)).toEqual(['shard-0']);
    expect(b.targets.map((t) => t.instance)).toEqual(['shard-1']);
    expect(a.targets[0]!.sql).toBe('SELECT * FROM `app_global`.`countries` WHERE code = ?');
  });

  it('writes to every instance', () => {
    const p = route('INSERT INTO countries (code, name) VALUES (?, ?)', ['DE', 'Germany']);
    expect(p.fanOut).toBe(true);
    expect(p.targets.map((t) => t.instance)).toEqual(['shard-0', 'shard-1', 'shard-2', 'shard-3', 'shard-4']);
  });
});

describe('pinned sessions and transactions', () => {
  it('rewrites names for the pinned shard when there is no key predicate', () => {
    const p = route('SELECT COUNT(*) FROM orders WHERE amount > ?', [10], { shard: 7 });
    expect(p.targets[0]!.sql).toBe('SELECT COUNT(*) FROM `app_00`.`orders_0007` WHERE amount > ?');
  });

  it('refuses a statement that routes to another shard', () => {
    const err = failure(() => route('UPDATE users SET name = ? WHERE uid = ?', ['x', 1], { shard: 136, pinnedBy: 'transaction' }));
    expect(err.code).toBe('CROSS_SHARD_TRANSACTION');
    expect(err.message).toBe('uid = … routes to shard 951, but this transaction is bound to shard 136');
    expect(failure(() => route('INSERT INTO users (uid, name) VALUES (?, ?)', [2, 'x'], { shard: 136, pinnedBy: 'forUid' })).code).toBe(
      'SHARD_MISMATCH',
    );
  });

  it('refuses broadcast writes inside a transaction', () => {
    expect(failure(() => route('DELETE FROM countries WHERE code = ?', ['DE'], { shard: 1, pinnedBy: 'transaction' })).code).toBe(
      'CROSS_SHARD_TRANSACTION',
    );
  });
});

describe('bad input', () => {
  it('reports the parse position', () => {
    const err = failure(() => analyze('SELECT name\nFROM users WHERE uid = = ?', topology)) as SqlParseError;
    expect(err).toBeInstanceOf(SqlParseError);
    expect(err.code).toBe('SQL_PARSE');
    expect(err.line).toBe(2);
    expect(err.offset).toBeGreaterThan(11);
    expect(err.message).toMatch(/line 2, column \d+/);
  });

  it('refuses several statements in one string', () => {
    const err = failure(() => analyze('SELECT 1 FROM users WHERE uid = 1; DROP TABLE users', topology)) as SqlParseError;
    expect(err.code).toBe('SQL_MULTIPLE_STATEMENTS');
    expect(err.offset).toBe(35);
  });

  it.each([
    ['SELECT * FROM nope WHERE uid = 1', 'UNKNOWN_TABLE', /unknown table nope/],
    ['SELECT * FROM app_02.users_0136 WHERE uid = 1', 'SQL_UNSUPPORTED', /qualified table names/],
    ['DROP TABLE users', 'SQL_UNSUPPORTED', /shardline migrate/],
    ['UPDATE users SET uid = ? WHERE uid = ?', 'SQL_UNSUPPORTED', /must not change the shard key/],
    ['INSERT INTO users VALUES (1, ?)', 'SQL_UNSUPPORTED', /must name its columns/],
    ['INSERT INTO users (name) VALUES (?)', 'SHARD_KEY_MISSING', /must set its shard key column uid/],
    ['INSERT INTO users (uid, name) SELECT uid, name FROM orders', 'SQL_UNSUPPORTED', /must use VALUES/],
    ['INSERT INTO users (uid, name) VALUES (? + 1, ?)', 'SQL_UNSUPPORTED', /placeholder or a literal/],
  ])('%s → %s', (sql, code, message) => {
    const err = failure(() =>
      plan(analyze(sql, topology), sql.includes('?') ? [1, 2].slice(0, (sql.match(/\?/g) ?? []).length) : [], topology),
    );
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it('refuses a wrong number of values and invalid UIDs', () => {
    expect(failure(() => route('SELECT * FROM users WHERE uid = ?', [])).code).toBe('SQL_PARAM_COUNT');
    expect(failure(() => route('SELECT * FROM users WHERE uid = ?', [-5])).code).toBe('INVALID_UID');
    expect(failure(() => route('SELECT * FROM users WHERE uid = ?', ['0042'])).code).toBe('INVALID_UID');
  });
});

describe('PlanCache', () => {
  it('parses once per SQL text and counts hits and misses', () => {
    const cache = new PlanCache(topology, 2);
    const a = cache.get('SELECT * FROM users WHERE uid = ?');
    expect(cache.get('SELECT * FROM users WHERE uid = ?')).toBe(a);
    cache.get('SELECT * FROM orders WHERE uid = ?');
    cache.get('SELECT name FROM users WHERE uid = ?');
    expect(cache.stats()).toEqual({ hits: 1, misses: 3, size: 2 });
  });

  it('does not cache failures', () => {
    const cache = new PlanCache(topology);
    expect(() => cache.get('SELECT * FROM nope')).toThrow(RoutingError);
    expect(cache.stats().size).toBe(0);
  });
});
