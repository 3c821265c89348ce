import { crc32 } from 'node:zlib';
import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import { Topology } from '../../src/shard/index.js';
import { analyze, plan, type SqlParam } from '../../src/sql/index.js';
import { routeBroadcast } from '../../src/sql/route-broadcast.js';
import { routeGroups } from '../../src/sql/route-groups.js';
import { routeInList } from '../../src/sql/route-in-list.js';
import { routeInsert } from '../../src/sql/route-insert.js';
import { routeOneKey } from '../../src/sql/route-one-key.js';
import { routePinned } from '../../src/sql/route-pinned.js';
import { routeScatter, shardKeyMissing } from '../../src/sql/route-scatter.js';
import { failure } from '../support/thrown.js';

const config = loadClusterConfig(bundledClusterConfig, {});
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);

// Oracles from the bundled config, independent of src/shard: CRC32 of the UID's text mod 1024;
// 16 databases app_00…app_15 of 64 shards each; instances shard-0…shard-3 of 256 shards each.
const shardOf = (uid: number | bigint) => crc32(String(uid)) % 1024;
const instanceOf = (s: number) => `shard-${Math.floor(s / 256)}`;
const physical = (table: string, s: number) =>
  `\`app_${String(Math.floor(s / 64)).padStart(2, '0')}\`.\`${table}_${String(s).padStart(4, '0')}\``;
/** The smallest UID above `after` whose shard satisfies `ok`. */
function uidWhere(ok: (shard: number) => boolean, after = 0): number {
  for (let u = after + 1; ; u++) if (ok(shardOf(u))) return u;
}
const a = (sql: string) => analyze(sql, topology);

describe('routeOneKey', () => {
  const sel = a('SELECT name FROM users WHERE uid = ?');

  it('sends the statement to the shard of its one key value, sharing the values array', () => {
    const params: SqlParam[] = [77];
    const p = routeOneKey(sel, sel.key!, params, topology, {});
    expect(p).toEqual({
      kind: 'single',
      statement: 'select',
      write: false,
      fanOut: false,
      shards: [shardOf(77)],
      targets: [
        {
          instance: instanceOf(shardOf(77)),
          shards: [shardOf(77)],
          sql: `SELECT name FROM ${physical('users', shardOf(77))} WHERE uid = ?`,
          params: [77],
        },
      ],
      merge: { kind: 'single' },
    });
    expect(p.targets[0]!.params).toBe(params);
  });

  it('reads a literal key and adds affected rows of a write', () => {
    const del = a('DELETE FROM orders WHERE uid = 123456 AND order_id = ?');
    const p = routeOneKey(del, del.key!, [5], topology, {});
    expect(p.shards).toEqual([shardOf(123456)]);
    expect(p.merge).toEqual({ kind: 'sum-affected' });
    expect(p.targets[0]!.sql).toBe(`DELETE FROM ${physical('orders', shardOf(123456))} WHERE uid = 123456 AND order_id = ?`);
  });

  it('accepts its pinned shard and refuses another with the pin’s error code', () => {
    const s = shardOf(9);
    expect(routeOneKey(sel, sel.key!, [9], topology, { shard: s, pinnedBy: 'forUid' }).shards).toEqual([s]);
    const other = (s + 1) % 1024;
    const forUid = failure(() => routeOneKey(sel, sel.key!, [9], topology, { shard: other, pinnedBy: 'forUid' }));
    expect([forUid.code, forUid.details]).toEqual(['SHARD_MISMATCH', { expected: other, found: s }]);
    expect(failure(() => routeOneKey(sel, sel.key!, [9], topology, { shard: other, pinnedBy: 'transaction' })).code).toBe(
      'CROSS_SHARD_TRANSACTION',
    );
  });

  it('refuses a key value that is not a UID', () => {
    expect(failure(() => routeOneKey(sel, sel.key!, ['x'], topology, {})).code).toBe('INVALID_UID');
  });
});

describe('routeGroups', () => {
  const union = a('SELECT name FROM users WHERE uid = ? UNION ALL SELECT status FROM orders WHERE uid = ?');

  it('runs every group on the one shard they all name, with a copy of the values', () => {
    const u = 31;
    const same = uidWhere((s) => s === shardOf(u), u);
    const params: SqlParam[] = [u, same];
    const p = routeGroups(union, params, topology, {});
    const s = shardOf(u);
    expect(p).toEqual({
      statement: 'select',
      write: false,
      fanOut: false,
      kind: 'single',
      shards: [s],
      targets: [
        {
          instance: instanceOf(s),
          shards: [s],
          sql: `SELECT name FROM ${physical('users', s)} WHERE uid = ? UNION ALL SELECT status FROM ${physical('orders', s)} WHERE uid = ?`,
          params,
        },
      ],
      merge: { kind: 'single' },
    });
    expect(p.targets[0]!.params).not.toBe(params);
  });

  it('refuses groups on different shards, naming each group’s shards', () => {
    const other = uidWhere((s) => s !== shardOf(31));
    const err = failure(() => routeGroups(union, [31, other], topology, {}));
    expect(err.code).toBe('SQL_UNSUPPORTED');
    expect(err.details).toEqual({ shards: [`users → ${shardOf(31)}`, `orders → ${shardOf(other)}`] });
  });

  it('refuses a group without a key unless the statement is pinned, then uses the pinned shard', () => {
    const halfKeyed = a('SELECT name FROM users UNION ALL SELECT status FROM orders WHERE uid = ?');
    const missing = failure(() => routeGroups(halfKeyed, [31], topology, {}));
    expect([missing.code, missing.details]).toEqual(['SHARD_KEY_MISSING', { table: 'users', column: 'uid' }]);
    expect(routeGroups(halfKeyed, [31], topology, { shard: shardOf(31) }).shards).toEqual([shardOf(31)]);
    expect(failure(() => routeGroups(halfKeyed, [31], topology, { shard: (shardOf(31) + 1) % 1024 })).code).toBe('SQL_UNSUPPORTED');
  });

  it('refuses a group whose IN list spans shards, and a pinned statement whose groups land elsewhere', () => {
    const inList = a('SELECT name FROM users WHERE uid = ? UNION ALL SELECT status FROM orders WHERE uid IN (?, ?)');
    const higher = uidWhere((s) => s > shardOf(31));
    const err1 = failure(() => routeGroups(inList, [31, 31, higher], topology, {}));
    expect([err1.code, err1.details]).toEqual([
      'SQL_UNSUPPORTED',
      { shards: [`users → ${shardOf(31)}`, `orders → ${shardOf(31)},${shardOf(higher)}`] },
    ]);
    const err = failure(() => routeGroups(union, [31, 31], topology, { shard: (shardOf(31) + 1) % 1024, pinnedBy: 'transaction' }));
    expect(err.code).toBe('CROSS_SHARD_TRANSACTION');
  });
});

describe('routeBroadcast', () => {
  const read = a('SELECT name FROM countries WHERE code = ?');
  const write = a('UPDATE countries SET name = ? WHERE code = ?');

  it('reads from one instance chosen round-robin', () => {
    const chosen = [0, 1, 2, 3, 4, 7].map((n) =>
      routeBroadcast(read, ['fr'], topology, { readInstance: n }).targets.map((t) => t.instance),
    );
    expect(chosen).toEqual([['shard-0'], ['shard-1'], ['shard-2'], ['shard-3'], ['shard-0'], ['shard-3']]);
    const p = routeBroadcast(read, ['fr'], topology, {});
    expect(p).toEqual({
      statement: 'select',
      write: false,
      fanOut: false,
      kind: 'broadcast',
      shards: [],
      targets: [{ instance: 'shard-0', shards: [], sql: 'SELECT name FROM `app_global`.`countries` WHERE code = ?', params: ['fr'] }],
      merge: { kind: 'single' },
    });
  });

  it('writes to every instance and adds their affected rows', () => {
    const p = routeBroadcast(write, ['France', 'fr'], topology, { readInstance: 2 });
    expect([p.kind, p.fanOut, p.merge]).toEqual(['broadcast', true, { kind: 'sum-affected' }]);
    expect(p.targets.map((t) => t.instance)).toEqual(['shard-0', 'shard-1', 'shard-2', 'shard-3', 'shard-4']);
    expect(new Set(p.targets.map((t) => t.sql))).toEqual(new Set(['UPDATE `app_global`.`countries` SET name = ? WHERE code = ?']));
  });

  it('reads on the pinned shard’s instance and refuses a pinned write', () => {
    const p = routeBroadcast(read, ['fr'], topology, { shard: 600, pinnedBy: 'forUid' });
    expect([p.kind, p.shards, p.targets]).toEqual([
      'single',
      [600],
      [{ instance: 'shard-2', shards: [], sql: 'SELECT name FROM `app_global`.`countries` WHERE code = ?', params: ['fr'] }],
    ]);
    expect(failure(() => routeBroadcast(write, ['x', 'fr'], topology, { shard: 600, pinnedBy: 'forUid' })).code).toBe('SQL_UNSUPPORTED');
    expect(failure(() => routeBroadcast(write, ['x', 'fr'], topology, { shard: 600, pinnedBy: 'transaction' })).code).toBe(
      'CROSS_SHARD_TRANSACTION',
    );
  });
});

describe('routeInsert', () => {
  const ins = a('INSERT INTO users (uid, name) VALUES (?, ?), (?, ?), (?, ?) ON DUPLICATE KEY UPDATE name = ?');

  it('sends each shard only its own tuples and their values, keeping the text and values around them', () => {
    const u1 = 5;
    const u2 = uidWhere((s) => s !== shardOf(u1), u1);
    const u3 = uidWhere((s) => s === shardOf(u1), u2);
    const p = routeInsert(ins, ins.insert!, [u1, 'a', u2, 'b', u3, 'c', 'dup'], topology, {});
    const [s1, s2] = [shardOf(u1), shardOf(u2)];
    const bySql = (s: number, tuples: string) =>
      `INSERT INTO ${physical('users', s)} (uid, name) VALUES ${tuples} ON DUPLICATE KEY UPDATE name = ?`;
    const expected = [
      { instance: instanceOf(s1), shards: [s1], sql: bySql(s1, '(?, ?), (?, ?)'), params: [u1, 'a', u3, 'c', 'dup'] },
      { instance: instanceOf(s2), shards: [s2], sql: bySql(s2, '(?, ?)'), params: [u2, 'b', 'dup'] },
    ].sort((x, y) => x.shards[0]! - y.shards[0]!);
    expect(p).toEqual({
      statement: 'insert',
      write: true,
      fanOut: false,
      kind: 'multi',
      shards: [s1, s2].sort((x, y) => x - y),
      targets: expected,
      merge: { kind: 'sum-affected' },
    });
  });

  it('keeps the statement whole when every row lands on one shard', () => {
    const u = 8;
    const [v, w] = [
      uidWhere((s) => s === shardOf(u), u),
      uidWhere(
        (s) => s === shardOf(u),
        uidWhere((s) => s === shardOf(u), u),
      ),
    ];
    const params: SqlParam[] = [u, 'a', v, 'b', w, 'c', 'dup'];
    const p = routeInsert(ins, ins.insert!, params, topology, {});
    expect([p.kind, p.shards]).toEqual(['single', [shardOf(u)]]);
    expect(p.targets).toEqual([
      {
        instance: instanceOf(shardOf(u)),
        shards: [shardOf(u)],
        sql: `INSERT INTO ${physical('users', shardOf(u))} (uid, name) VALUES (?, ?), (?, ?), (?, ?) ON DUPLICATE KEY UPDATE name = ?`,
        params,
      },
    ]);
    expect(p.targets[0]!.params).not.toBe(params);
  });

  it('routes literal keys and refuses a row outside the pinned shard', () => {
    const lit = a('REPLACE INTO orders (uid, order_id, amount) VALUES (42, ?, 1), (2, ?, 2)');
    const p = routeInsert(lit, lit.insert!, [10, 20], topology, {});
    expect(p.targets.map((t) => [t.shards[0], t.params])).toEqual(
      [
        [shardOf(42), [10]],
        [shardOf(2), [20]],
      ].sort((x, y) => (x[0] as number) - (y[0] as number)),
    );
    const err = failure(() => routeInsert(lit, lit.insert!, [10, 20], topology, { shard: shardOf(42), pinnedBy: 'transaction' }));
    expect([err.code, err.details]).toEqual(['CROSS_SHARD_TRANSACTION', { expected: shardOf(42), found: shardOf(2) }]);
  });
});

describe('routeInList', () => {
  const sel = a('SELECT uid, name FROM users WHERE uid IN (?, ?, ?)');

  it('runs on the distinct shards of the values, ascending, batched per instance', () => {
    const us = [1, 2, 42];
    const p = routeInList(sel, sel.key!, us, topology, {});
    const shards = [...new Set(us.map(shardOf))].sort((x, y) => x - y);
    expect([p.kind, p.shards]).toEqual(['multi', shards]);
    expect(p.targets.map((t) => t.instance)).toEqual(shards.map(instanceOf));
    expect(p.merge).toEqual({ kind: 'concat', limit: null });
  });

  it('is single when every value falls on one shard', () => {
    const u = 100;
    const v = uidWhere((s) => s === shardOf(u), u);
    const p = routeInList(sel, sel.key!, [u, v, u], topology, {});
    expect([p.kind, p.shards, p.merge]).toEqual(['single', [shardOf(u)], { kind: 'single' }]);
    expect(p.targets).toEqual([
      {
        instance: instanceOf(shardOf(u)),
        shards: [shardOf(u)],
        sql: `SELECT uid, name FROM ${physical('users', shardOf(u))} WHERE uid IN (?, ?, ?)`,
        params: [u, v, u],
      },
    ]);
  });

  it('writes once per shard, and refuses a LIMIT on a write that spans shards', () => {
    const u = 3;
    const v = uidWhere((s) => s !== shardOf(u), u);
    const upd = a('UPDATE users SET name = ? WHERE uid IN (?, ?)');
    const p = routeInList(upd, upd.key!, ['n', u, v], topology, {});
    // each shard's statement keeps only its own key value (sql-in-list-pruning.test.ts)
    expect(p.targets.map((t) => [t.shards, t.sql, t.params])).toEqual(
      [
        [shardOf(u), u],
        [shardOf(v), v],
      ]
        .sort((x, y) => Number(x[0]) - Number(y[0]))
        .map(([s, uid]) => [[s], `UPDATE ${physical('users', Number(s))} SET name = ? WHERE uid IN (?)`, ['n', uid]]),
    );
    const limited = a('DELETE FROM users WHERE uid IN (?, ?) LIMIT 1');
    const err = failure(() => routeInList(limited, limited.key!, [u, v], topology, {}));
    expect([err.code, err.details]).toEqual(['SQL_UNSUPPORTED', { reason: 'LIMIT on a write' }]);
    expect(routeInList(limited, limited.key!, [u, u], topology, {}).kind).toBe('single');
  });

  it('refuses a value outside the pinned shard', () => {
    const err = failure(() => routeInList(sel, sel.key!, [1, 2, 42], topology, { shard: shardOf(1), pinnedBy: 'forUid' }));
    expect(err.code).toBe('SHARD_MISMATCH');
    expect(err.message).toContain('uid = …');
  });
});

describe('routePinned', () => {
  it('runs a statement without a key on the pinned shard', () => {
    const upd = a('UPDATE orders SET status = ? WHERE order_id = ?');
    const p = routePinned(upd, ['paid', 7], topology, { shard: 700, pinnedBy: 'transaction' });
    expect(p).toEqual({
      statement: 'update',
      write: true,
      fanOut: false,
      kind: 'single',
      shards: [700],
      targets: [
        {
          instance: 'shard-2',
          shards: [700],
          sql: `UPDATE ${physical('orders', 700)} SET status = ? WHERE order_id = ?`,
          params: ['paid', 7],
        },
      ],
      merge: { kind: 'sum-affected' },
    });
  });
});

describe('routeScatter and shardKeyMissing', () => {
  it('runs on all 1024 shards, one UNION ALL round trip per instance', () => {
    const count = a('SELECT COUNT(*) AS n FROM users');
    const p = routeScatter(count, [], topology, {});
    expect(p.kind).toBe('scatter');
    expect(p.shards).toEqual(Array.from({ length: 1024 }, (_, i) => i));
    expect(p.targets.map((t) => [t.instance, t.shards.length])).toEqual([0, 1, 2, 3].map((i) => [`shard-${i}`, 256]));
    expect(p.targets[1]!.sql.split(' UNION ALL ')[0]).toBe(
      `SELECT CAST(SUM(__shardline_a0) AS SIGNED) AS __shardline_a0 FROM ((SELECT COUNT(*) AS __shardline_a0 FROM ${physical('users', 256)})`,
    );
    expect(p.merge).toMatchObject({ kind: 'grouped', spec: { keys: 0, partials: ['count'], outputs: [{ name: 'n' }] } });
  });

  it('names the table, its key column and the shard count when the key is missing', () => {
    const err = shardKeyMissing(a('SELECT * FROM orders WHERE status = ?'), topology);
    expect([err.code, err.details]).toEqual(['SHARD_KEY_MISSING', { table: 'orders', column: 'uid' }]);
    expect(err.message).toContain('all 1024 shards');
  });
});

describe('plan() dispatches each statement to its route kind', () => {
  const u = 11;
  const v = uidWhere((s) => s !== shardOf(u), u);
  it.each<[string, string, SqlParam[], object, (x: ReturnType<typeof a>, p: SqlParam[]) => unknown]>([
    ['one key', 'SELECT name FROM users WHERE uid = ?', [u], {}, (x, p) => routeOneKey(x, x.key!, p, topology, {})],
    [
      'groups',
      'SELECT name FROM users WHERE uid = ? UNION ALL SELECT status FROM orders WHERE uid = ?',
      [u, u],
      {},
      (x, p) => routeGroups(x, p, topology, {}),
    ],
    ['broadcast', 'SELECT name FROM countries', [], { readInstance: 1 }, (x, p) => routeBroadcast(x, p, topology, { readInstance: 1 })],
    ['insert', 'INSERT INTO users (uid) VALUES (?), (?)', [u, v], {}, (x, p) => routeInsert(x, x.insert!, p, topology, {})],
    ['in list', 'SELECT name FROM users WHERE uid IN (?, ?)', [u, v], {}, (x, p) => routeInList(x, x.key!, p, topology, {})],
    ['pinned', 'SELECT name FROM users', [], { shard: 5 }, (x, p) => routePinned(x, p, topology, { shard: 5 })],
    ['scatter', 'SELECT name FROM users', [], { scatter: true }, (x, p) => routeScatter(x, p, topology, {})],
  ])('%s', (_kind, sql, params, options, direct) => {
    const x = a(sql);
    expect(plan(x, params, topology, options)).toEqual(direct(x, params));
  });

  it('refuses a wrong value count before routing, and a missing key without scatter', () => {
    expect(failure(() => plan(a('SELECT name FROM users WHERE uid = ?'), [], topology)).code).toBe('SQL_PARAM_COUNT');
    expect(failure(() => plan(a('SELECT name FROM users'), [], topology)).code).toBe('SHARD_KEY_MISSING');
  });
});
