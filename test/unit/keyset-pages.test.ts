import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import type { ShardlineError } from '../../src/errors/index.js';
import { keysetPaginate } from '../../src/router/keyset-paginate.js';
import { Topology } from '../../src/shard/index.js';
import { analyzeKeyset, keysetValues, type SqlParam } from '../../src/sql/index.js';

const config = loadClusterConfig(bundledClusterConfig, {});
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);

describe('keyset pages', () => {
  it('puts the keyset predicate into the WHERE clause, ANDed with the original condition, and keeps the placeholders in order', () => {
    const p = analyzeKeyset('SELECT uid, name AS n FROM users WHERE status = ? OR uid = ? ORDER BY n DESC, uid', topology);
    expect(p.first).toBe('SELECT uid, name AS n FROM users WHERE status = ? OR uid = ? ORDER BY n DESC, uid LIMIT ?');
    expect(p.next).toBe(
      'SELECT uid, name AS n FROM users WHERE (status = ? OR uid = ?) AND ((name < ?) OR (name = ? AND uid > ?)) ORDER BY n DESC, uid LIMIT ?',
    );
    expect(p.params).toEqual([0, 1]);
    expect(p.keys).toEqual([
      { column: 'n', desc: true },
      { column: 'uid', desc: false },
    ]);
    expect(keysetValues(p.keys, { uid: 7n, n: 'x' })).toEqual(['x', 'x', 7n]);
  });

  it('adds a WHERE clause to a statement without one', () => {
    const p = analyzeKeyset('SELECT * FROM users ORDER BY uid', topology);
    expect(p.next).toBe('SELECT * FROM users WHERE ((uid > ?)) ORDER BY uid LIMIT ?');
  });

  it.each([
    ['SELECT uid FROM users', /needs an ORDER BY/],
    ['SELECT uid FROM users ORDER BY uid LIMIT 3', /must not have a LIMIT/],
    ['SELECT DISTINCT uid FROM users ORDER BY uid', /DISTINCT/],
    ['SELECT uid FROM users ORDER BY uid + ?', /column of the select list/],
    ['SELECT uid FROM users ORDER BY name', /column of the select list/],
    ['DELETE FROM users WHERE uid = 1', /pages a SELECT/],
  ])('refuses %s', (sql, message) => {
    let err: ShardlineError | undefined;
    try {
      analyzeKeyset(sql, topology);
    } catch (e) {
      err = e as ShardlineError;
    }
    expect([err?.code, err?.message]).toEqual(['SQL_UNSUPPORTED', expect.stringMatching(message)]);
  });

  it('fetches page after page until a short one, each after the last row of the one before', async () => {
    const p = analyzeKeyset('SELECT uid FROM users WHERE uid > ? ORDER BY uid', topology);
    const data = Array.from({ length: 7 }, (_, i) => ({ uid: BigInt(i + 10) }));
    const calls: SqlParam[][] = [];
    const run = async (sql: string, params: SqlParam[]) => {
      calls.push(params);
      const after = sql === p.next ? (params[1] as bigint) : -1n;
      return data.filter((r) => r.uid > after).slice(0, Number(params.at(-1)));
    };
    const pages: bigint[][] = [];
    for await (const page of keysetPaginate(p, [0], 3, run)) pages.push(page.map((r) => r['uid'] as bigint));
    expect(pages).toEqual([[10n, 11n, 12n], [13n, 14n, 15n], [16n]]);
    expect(calls).toEqual([
      [0, 3],
      [0, 12n, 3],
      [0, 15n, 3],
    ]);
    await expect(keysetPaginate(p, [0], 0, run).next()).rejects.toThrow(/pageSize must be an integer/);
    const nulls = async () => [{ uid: null }];
    await expect(async () => {
      const it = keysetPaginate(p, [0], 1, nulls);
      await it.next();
      await it.next();
    }).rejects.toThrow(/NULL/);
  });
});
