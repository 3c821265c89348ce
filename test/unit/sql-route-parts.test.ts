import { crc32 } from 'node:zlib';
import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import { Topology } from '../../src/shard/index.js';
import { analyze } from '../../src/sql/index.js';
import { mergeFor, SINGLE, SUM_AFFECTED } from '../../src/sql/route-merge.js';
import { render, shardTarget } from '../../src/sql/route-render.js';
import { routeShardSet } from '../../src/sql/route-shard-set.js';
import { assertPinned, keyValue, shardsOfKeys } from '../../src/sql/route-shards.js';
import { unionTargets } from '../../src/sql/route-union.js';
import { failure } from '../support/thrown.js';

const config = loadClusterConfig(bundledClusterConfig, {});
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
// Oracles from the bundled config (see sql-route-kinds.test.ts).
const shardOf = (uid: number | bigint) => crc32(String(uid)) % 1024;
const physical = (table: string, s: number) =>
  `\`app_${String(Math.floor(s / 64)).padStart(2, '0')}\`.\`${table}_${String(s).padStart(4, '0')}\``;
const a = (sql: string) => analyze(sql, topology);

describe('render and shardTarget', () => {
  const x = a('SELECT o.status FROM orders o JOIN users u ON u.uid = o.uid WHERE o.uid = ? AND o.status = ?');

  it('renames every table of the whole text for a shard', () => {
    expect(render(x, topology, 700)).toBe(
      `SELECT o.status FROM ${physical('orders', 700)} o JOIN ${physical('users', 700)} u ON u.uid = o.uid WHERE o.uid = ? AND o.status = ?`,
    );
  });

  it('renames only the tables inside a range, and keeps the text of the range', () => {
    const from = x.sql.indexOf('JOIN');
    expect(render(x, topology, 3, from)).toBe(`JOIN ${physical('users', 3)} u ON u.uid = o.uid WHERE o.uid = ? AND o.status = ?`);
    expect(render(x, topology, 3, 0, from)).toBe(`SELECT o.status FROM ${physical('orders', 3)} o `);
    expect(render(x, topology, 3, 7, from)).toBe(`o.status FROM ${physical('orders', 3)} o `);
  });

  it('builds the one round trip of a shard with a copy of the values', () => {
    const params = ['paid', 1];
    const t = shardTarget(x, topology, 300, params);
    expect(t).toEqual({ instance: 'shard-1', shards: [300], sql: render(x, topology, 300), params });
    expect(t.params).not.toBe(params);
  });
});

describe('keyValue, shardsOfKeys and assertPinned', () => {
  it('reads a placeholder or a literal and returns distinct shards ascending', () => {
    expect(keyValue({ param: 1 }, ['a', 9n])).toBe(9n);
    expect(keyValue({ literal: '17' }, [])).toBe('17');
    const shards = shardsOfKeys('users', [{ param: 0 }, { literal: '42' }, { param: 1 }, { param: 0 }], [1, 2], topology);
    expect(shards).toEqual([...new Set([shardOf(1), shardOf(42), shardOf(2)])].sort((x, y) => x - y));
  });

  it('passes unpinned or same-shard routes and names the first other shard', () => {
    expect(() => assertPinned({}, [1, 2], 'x')).not.toThrow();
    expect(() => assertPinned({ shard: 4 }, [4, 4], 'x')).not.toThrow();
    const err = failure(() => assertPinned({ shard: 4 }, [4, 9, 10], 'an INSERT row'));
    expect([err.code, err.details, err.message]).toEqual([
      'SHARD_MISMATCH',
      { expected: 4, found: 9 },
      'an INSERT row routes to shard 9, but this session is bound to shard 4',
    ]);
    expect(failure(() => assertPinned({ shard: 4, pinnedBy: 'transaction' }, [9], 'x')).code).toBe('CROSS_SHARD_TRANSACTION');
  });
});

describe('mergeFor', () => {
  it('adds affected rows of writes and takes a one-shard read as is', () => {
    expect(mergeFor(a('DELETE FROM users WHERE status = 1'), [], true)).toBe(SUM_AFFECTED);
    expect(mergeFor(a('SELECT uid FROM users GROUP BY uid'), [], false)).toBe(SINGLE);
  });

  it('aggregates, sorts or concatenates a multi-shard read', () => {
    expect(mergeFor(a('SELECT COUNT(*) AS n, MAX(uid) AS m FROM users'), [], true)).toMatchObject({
      kind: 'grouped',
      spec: { keys: 0, partials: ['count', 'max'] },
    });
    expect(mergeFor(a('SELECT uid, name FROM users ORDER BY name DESC, uid LIMIT 5'), [], true)).toEqual({
      kind: 'sorted',
      orderBy: [
        { column: 'name', desc: true, weight: '__shardline_w0', collation: '__shardline_c0' },
        { column: 'uid', desc: false, weight: '__shardline_w1', collation: '__shardline_c1' },
      ],
      limit: 5,
      offset: 0,
    });
    expect(mergeFor(a('SELECT uid FROM users WHERE name = ? LIMIT ?'), ['n', '7'], true)).toEqual({ kind: 'concat', limit: 7 });
  });

  it('refuses an unmergeable shape and a LIMIT that is not a non-negative integer, without echoing it', () => {
    expect(failure(() => mergeFor(a('SELECT uid, RANK() OVER (ORDER BY uid) FROM users'), [], true)).code).toBe('SQL_UNSUPPORTED');
    const lim = a('SELECT uid FROM users LIMIT ?');
    const negative = failure(() => mergeFor(lim, [-31337], true));
    expect([negative.code, negative.message.includes('31337')]).toEqual(['SQL_UNSUPPORTED', false]);
    expect(failure(() => mergeFor(lim, [-1], true)).message).toContain('negative integer');
    expect(mergeFor(lim, [0], true)).toEqual({ kind: 'concat', limit: 0 });
    expect(failure(() => mergeFor(lim, [2.5], true)).message).toContain('non-integer');
  });
});

describe('unionTargets', () => {
  const sorted = a('SELECT uid, name AS `the name` FROM users ORDER BY `the name` DESC, uid LIMIT 3');

  it('chunks each instance’s shards into UNION ALL round trips, values repeated per part', () => {
    const shards = [1, 2, 3, 4, 300, 301];
    const t = unionTargets(sorted, topology, shards, [], { kind: 'concat', limit: null }, 3, '');
    expect(t.map((x) => [x.instance, x.shards])).toEqual([
      ['shard-0', [1, 2, 3]],
      ['shard-0', [4]],
      ['shard-1', [300, 301]],
    ]);
    expect(t[1]!.sql).toBe(render(sorted, topology, 4));
    expect(t[2]!.sql).toBe(`(${render(sorted, topology, 300)}) UNION ALL (${render(sorted, topology, 301)})`);
    const withValues = unionTargets(
      a('SELECT uid FROM users WHERE name = ?'),
      topology,
      [1, 2],
      ['n'],
      { kind: 'concat', limit: null },
      256,
      '',
    );
    expect(withValues[0]!.params).toEqual(['n', 'n']);
  });

  it('wraps a sorted merge in ORDER BY and LIMIT, quoting the columns', () => {
    const merge = mergeFor(sorted, [], true);
    const [t] = unionTargets(sorted, topology, [5, 6], [], merge, 256, '');
    expect(t!.sql).toBe(
      `SELECT * FROM ((${render(sorted, topology, 5)}) UNION ALL (${render(sorted, topology, 6)})) AS \`__shardline\` ORDER BY \`the name\` DESC, \`uid\` LIMIT 3`,
    );
  });
});

describe('routeShardSet', () => {
  it('gives one shard one round trip whose shards are the plan’s', () => {
    const x = a('SELECT uid FROM users GROUP BY uid');
    const p = routeShardSet(x, [], topology, {}, 'single', [12]);
    expect(p).toEqual({
      statement: 'select',
      write: false,
      fanOut: false,
      kind: 'single',
      shards: [12],
      targets: [shardTarget(x, topology, 12, [])],
      merge: SINGLE,
    });
    expect(p.targets[0]!.shards).toBe(p.shards);
  });

  it('refuses a per-shard blocker or an unmergeable read only on several shards', () => {
    const x = a('SELECT uid, RANK() OVER (ORDER BY uid) FROM users');
    expect(routeShardSet(x, [], topology, {}, 'single', [1]).targets).toHaveLength(1);
    expect(failure(() => routeShardSet(x, [], topology, {}, 'scatter', [1, 2])).code).toBe('SQL_UNSUPPORTED');
    const w = a('UPDATE users SET name = ? LIMIT 1');
    expect(failure(() => routeShardSet(w, ['n'], topology, {}, 'scatter', [1, 2])).details).toEqual({ reason: 'LIMIT on a write' });
  });

  it('runs a write once per shard and batches a read per instance with the chunk option', () => {
    const w = a('UPDATE users SET name = ?');
    expect(routeShardSet(w, ['n'], topology, {}, 'scatter', [1, 2, 700]).targets.map((t) => t.shards)).toEqual([[1], [2], [700]]);
    const r = a('SELECT uid FROM users');
    expect(routeShardSet(r, [], topology, { unionChunk: 2 }, 'scatter', [1, 2, 3, 700]).targets.map((t) => t.shards)).toEqual([
      [1, 2],
      [3],
      [700],
    ]);
    expect(routeShardSet(r, [], topology, {}, 'scatter', [1, 2, 3, 700]).targets.map((t) => t.shards)).toEqual([[1, 2, 3], [700]]);
  });
});
