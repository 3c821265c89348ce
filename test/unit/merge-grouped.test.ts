import { mergeGrouped } from '../../src/executor/index.js';
import { arithmetic, compareRational, divideDecimal, toRational } from '../../src/executor/sql-rational.js';
import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import { Topology } from '../../src/shard/index.js';
import { analyze, plan, type GroupedSpec, type SqlParam } from '../../src/sql/index.js';

const config = loadClusterConfig(bundledClusterConfig, {});
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
const specOf = (sql: string, params: SqlParam[] = []) => {
  const m = plan(analyze(sql, topology), params, topology, { scatter: true }).merge;
  if (m.kind !== 'grouped') throw new Error(`not grouped: ${m.kind}`);
  return m;
};
const P = '__shardline_';
const rows = (list: Record<string, unknown>[]) => ({ kind: 'rows' as const, rows: list, fields: [{ name: `${P}g0`, type: 8 }] });

describe('exact numbers of the merge', () => {
  it.each([
    ['10', 3n, 4, '3.3333'],
    ['20', 3n, 4, '6.6667'],
    ['-20', 3n, 4, '-6.6667'],
    ['1.25', 2n, 6, '0.625000'],
    ['-0.00001', 3n, 4, '0.0000'],
    ['99999999999999999999.99', 7n, 6, '14285714285714285714.284286'],
  ])('%s / %s at scale %d = %s (half away from zero)', (sum, count, scale, out) => {
    expect(divideDecimal(sum, count, scale)).toBe(out);
  });

  it('compares and computes without floating point', () => {
    const r = (v: unknown) => toRational(v)!;
    expect(compareRational(r('0.1'), r(0.1))).toBe(0);
    expect(compareRational(arithmetic('+', r('0.1'), r('0.2'))!, r('0.3'))).toBe(0);
    expect(compareRational(r('12345678901234567890.01'), r(12345678901234567890n))).toBe(1);
    expect(compareRational(r('1e3'), r(1000))).toBe(0);
    expect(arithmetic('/', r(1), r(0))).toBeNull();
    expect(() => toRational('abc')).toThrow(TypeError);
  });
});

describe('HAVING, ORDER BY, OFFSET and LIMIT on merged groups', () => {
  const sql =
    'SELECT uid % 3 AS k, COUNT(*) AS c, SUM(balance) AS s FROM users GROUP BY k HAVING COUNT(*) >= ? AND (SUM(balance) > ? OR SUM(balance) IS NULL) ORDER BY s DESC, k LIMIT 2 OFFSET ?';
  const shard = (k: bigint, c: bigint, s: string | null) => ({
    [`${P}g0`]: k,
    [`${P}gw0`]: null,
    [`${P}gc0`]: 'binary',
    [`${P}a0`]: c,
    [`${P}a1`]: s,
  });

  it('folds groups across shards, filters with three-valued logic and pages', () => {
    const m = specOf(sql, [2, '10.00', 0]);
    const outcomes = [
      rows([shard(0n, 1n, '5.00'), shard(1n, 2n, '20.00'), shard(2n, 1n, null)]),
      rows([shard(0n, 1n, '6.50'), shard(1n, 1n, '-1.00'), shard(2n, 1n, null)]),
    ];
    expect(mergeGrouped(m.spec, outcomes, m.params, { limit: m.limit, offset: m.offset, maxGroups: 10 })).toEqual([
      { k: 1n, c: 3n, s: '19.00' },
      { k: 0n, c: 2n, s: '11.50' },
    ]);
    const second = specOf(sql, [2, '10.00', 2]);
    expect(mergeGrouped(second.spec, outcomes, second.params, { limit: second.limit, offset: second.offset, maxGroups: 10 })).toEqual([
      { k: 2n, c: 2n, s: null },
    ]);
    expect(() => mergeGrouped(m.spec, outcomes, m.params, { limit: null, offset: 0, maxGroups: 2 })).toThrow(/maxGroups \(2\)/);
  });

  it('answers an ungrouped aggregate over no rows with one row, as MySQL does', () => {
    const m = specOf('SELECT COUNT(DISTINCT name) AS d, AVG(balance) AS a, MAX(name) AS x FROM users');
    const spec: GroupedSpec = m.spec;
    expect(mergeGrouped(spec, [{ kind: 'rows', rows: [], fields: [] }], [], { limit: null, offset: 0, maxGroups: 10 })).toEqual([
      { d: 0n, a: null, x: null },
    ]);
  });

  it('names an output __proto__ as a column, not the prototype of the row', () => {
    const m = specOf('SELECT COUNT(*) AS __proto__ FROM users');
    const outcomes = [rows([{ [`${P}a0`]: 2n }]), rows([{ [`${P}a0`]: 3n }])];
    const [row] = mergeGrouped(m.spec, outcomes, [], { limit: null, offset: 0, maxGroups: 10 });
    expect(Object.entries(row!)).toEqual([['__proto__', 5n]]);
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
  });

  it('counts distinct text by its collation weight', () => {
    const m = specOf('SELECT COUNT(DISTINCT name) AS d FROM users');
    const text = [{ name: `${P}d0`, type: 253 }];
    const r = (name: string, w: string) => ({ [`${P}d0`]: name, [`${P}dw0`]: Buffer.from(w), [`${P}dc0`]: 'utf8mb4_general_ci' });
    const outcomes = [
      { kind: 'rows' as const, rows: [r('apple', 'A'), r('Émile', 'E')], fields: text },
      { kind: 'rows' as const, rows: [r('APPLE', 'A'), r('zoe', 'Z')], fields: text },
    ];
    expect(mergeGrouped(m.spec, outcomes, [], { limit: null, offset: 0, maxGroups: 10 })).toEqual([{ d: 3n }]);
  });
});
