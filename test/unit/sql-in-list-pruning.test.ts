import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import { Topology } from '../../src/shard/index.js';
import { analyze, plan, type PlanOptions, type SqlParam } from '../../src/sql/index.js';
import { prng } from '../support/prng.js';

// A multi-shard statement bounded by `uid IN (…)` gives each shard only the items that hash to
// it (and their values), not the whole list: n values over n shards cost n items, not n².
const config = loadClusterConfig(bundledClusterConfig, {});
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
// From schemas/shard-hash-vectors.json (MySQL CRC32): uid 1 → 951, 2 → 525, 42 → 136.
const route = (sql: string, params: SqlParam[] = [], options: PlanOptions = {}) => plan(analyze(sql, topology), params, topology, options);
const placeholders = (sql: string) => (sql.match(/\?/g) ?? []).length;

describe('shard-key IN lists are pruned per shard', () => {
  it('a read: each shard gets its own values, the other placeholders keep theirs', () => {
    const p = route('SELECT uid, name FROM users WHERE name <> ? AND uid IN (?, ?, ?) AND balance > ?', ['x', 1, 2, 42, 5]);
    expect(p.targets).toEqual([
      {
        instance: 'shard-0',
        shards: [136],
        sql: 'SELECT uid, name FROM `app_02`.`users_0136` WHERE name <> ? AND uid IN (?) AND balance > ?',
        params: ['x', 42, 5],
      },
      {
        instance: 'shard-2',
        shards: [525],
        sql: 'SELECT uid, name FROM `app_08`.`users_0525` WHERE name <> ? AND uid IN (?) AND balance > ?',
        params: ['x', 2, 5],
      },
      {
        instance: 'shard-3',
        shards: [951],
        sql: 'SELECT uid, name FROM `app_14`.`users_0951` WHERE name <> ? AND uid IN (?) AND balance > ?',
        params: ['x', 1, 5],
      },
    ]);
  });

  it('a write with literals and placeholders mixed; values on one shard stay together', () => {
    const p = route("UPDATE users SET name = ? WHERE uid IN (?, 2, '42', ?, 1) AND balance > ?", ['n', 1, 42, 5]);
    expect(p.targets.map((t) => [t.shards, t.sql, t.params])).toEqual([
      [[136], "UPDATE `app_02`.`users_0136` SET name = ? WHERE uid IN ('42', ?) AND balance > ?", ['n', 42, 5]],
      [[525], 'UPDATE `app_08`.`users_0525` SET name = ? WHERE uid IN (2) AND balance > ?', ['n', 5]],
      [[951], 'UPDATE `app_14`.`users_0951` SET name = ? WHERE uid IN (?, 1) AND balance > ?', ['n', 1, 5]],
    ]);
  });

  it('a single shard keeps the statement as written', () => {
    const p = route('DELETE FROM users WHERE uid IN (?, ?)', [42, 42]);
    expect(p.targets).toEqual([
      { instance: 'shard-0', shards: [136], sql: 'DELETE FROM `app_02`.`users_0136` WHERE uid IN (?, ?)', params: [42, 42] },
    ]);
  });

  it.each([
    ['SELECT uid FROM users WHERE uid IN ((1), 2)', 'uid IN ((1), 2)'],
    // a double-quoted item is an identifier under ANSI_QUOTES: never cut out of the list
    ['SELECT uid FROM users WHERE uid IN ("1", 2)', 'uid IN ("1", 2)'],
  ])('a list that is not one placeholder or literal token per item goes whole to every shard: %s', (sql, list) => {
    const p = route(sql, []);
    expect(p.shards).toEqual([525, 951]);
    for (const t of p.targets) expect(t.sql).toContain(list);
  });

  /** The items of each shard's IN list in a target, with the values of their placeholders. */
  function itemsByShard(sql: string, params: readonly SqlParam[], shards: readonly number[]): Map<number, string[]> {
    const parts = shards.length === 1 ? [sql] : sql.split(' UNION ALL ');
    expect(parts).toHaveLength(shards.length);
    const out = new Map<number, string[]>();
    let next = 0;
    parts.forEach((part, k) => {
      const m = /^(.*uid IN \()([^)]*)\)(.*)$/.exec(part);
      expect(m).not.toBeNull();
      next += placeholders(m![1]!);
      const items = m![2]!.split(', ').map((item) => (item === '?' ? String(params[next++]) : item));
      next += placeholders(m![3]!);
      out.set(shards[k]!, items);
    });
    expect(next).toBe(params.length);
    return out;
  }

  it.each([
    ['SELECT uid, name FROM users WHERE name <> ? AND uid IN (%s) AND balance >= ?', 11],
    ['DELETE FROM users WHERE name <> ? AND uid IN (%s) AND balance >= ?', 12],
    ['UPDATE users SET email = NULL WHERE name <> ? AND uid IN (%s) AND balance >= ?', 13],
  ])('200 values (placeholders, literals, repeats): every value reaches its own shard exactly once — %s', (template, seed) => {
    const rand = prng(seed);
    const uids: bigint[] = [];
    for (let i = 0; i < 200; i++)
      uids.push(i > 0 && rand() < 0.05 ? uids[Math.floor(rand() * i)]! : BigInt(Math.floor(rand() * 2 ** 52)) + 1n);
    const asParam = uids.map(() => rand() < 0.7);
    const sql = template.replace('%s', uids.map((u, i) => (asParam[i] ? '?' : String(u))).join(', '));
    const params: SqlParam[] = ['x', ...uids.filter((_, i) => asParam[i]), 0];
    const p = route(sql, params);
    const expected = new Map<number, string[]>();
    for (const u of uids) {
      const s = topology.shardOf(u);
      expected.set(s, [...(expected.get(s) ?? []), String(u)]);
    }
    expect(p.shards).toEqual([...expected.keys()].sort((a, b) => a - b));
    const seen = new Map<number, string[]>();
    let items = 0;
    for (const t of p.targets) {
      expect(placeholders(t.sql)).toBe(t.params.length);
      for (const [shard, list] of itemsByShard(t.sql, t.params, t.shards)) {
        expect(topology.map.instanceOf(shard)).toBe(t.instance);
        seen.set(shard, list);
        items += list.length;
      }
    }
    expect(items).toBe(200);
    for (const [shard, list] of expected) expect([...seen.get(shard)!].sort()).toEqual([...list].sort());
  });

  it.each([['SELECT uid FROM users WHERE uid IN (%s)'], ['DELETE FROM users WHERE uid IN (%s)']])(
    'each value of the list is hashed once while the statement is planned: %s',
    (template) => {
      const uids = Array.from({ length: 50 }, (_, i) => BigInt(i) * 7919n + 1n);
      const a = analyze(template.replace('%s', uids.map(() => '?').join(', ')), topology);
      const counted = new Topology(
        config.sharding,
        config.instances.map((i) => i.name),
      );
      let calls = 0;
      const shardOfKey = counted.shardOfKey.bind(counted);
      counted.shardOfKey = (table, value) => {
        calls++;
        return shardOfKey(table, value);
      };
      const p = plan(a, uids, counted);
      expect(p.shards).toEqual([...new Set(uids.map((u) => topology.shardOf(u)))].sort((x, y) => x - y));
      expect(calls).toBe(uids.length);
    },
  );
});
