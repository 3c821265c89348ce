import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import { isShardlineError } from '../../src/errors/index.js';
import { Topology } from '../../src/shard/index.js';
import { analyze, lex, plan, type SqlParam } from '../../src/sql/index.js';
import { prng } from '../support/prng.js';

const config = loadClusterConfig(bundledClusterConfig, {});
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);

/** Pieces of cross-shard SELECTs, some with placeholders in every clause, comments and quoted names. */
const KEYS = ['uid % ?', '`name`', 'name COLLATE utf8mb4_general_ci', 'FLOOR(balance / ?)', 'email', "CONCAT(name, '?')", 'u.uid % 5'];
const AGGS = [
  'COUNT(*)',
  'SUM(balance)',
  'AVG(balance * ?)',
  'MIN(name)',
  'MAX(`balance`)',
  'COUNT(DISTINCT email)',
  'COUNT(email)',
  'SUM(balance + ?)',
];
const WHERES = [
  '',
  ' WHERE balance > ?',
  " WHERE name <> 'GROUP BY ?' AND balance > ?",
  ' WHERE /* ORDER BY x LIMIT 1 */ uid > ?',
  ' WHERE (name = ? OR email = ?) AND uid > 0',
];
const HAVINGS = [
  '',
  ' HAVING COUNT(*) > ?',
  ' HAVING a0 > ? OR a0 IS NULL',
  ' HAVING SUM(balance) BETWEEN ? AND ?',
  ' HAVING NOT (COUNT(*) IN (?, 2, ?))',
];

const countParams = (sql: string) => lex(sql).tokens.filter((t) => t.type === 'param').length;

describe('cross-shard rewrite under random statements', () => {
  it('plans 250 random grouped and sorted SELECTs or refuses them with a typed error; every round trip binds one value per placeholder', () => {
    const rand = prng(7);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    let planned = 0;
    for (let i = 0; i < 250; i++) {
      const keys = Array.from({ length: Math.floor(rand() * 3) }, () => pick(KEYS));
      const aggs = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(AGGS));
      const distinct = keys.length > 0 && rand() < 0.15;
      const cols = distinct
        ? keys.map((k, j) => `${k} AS k${j}`)
        : [...keys.map((k, j) => `${k} AS k${j}`), ...aggs.map((a, j) => `${a} AS a${j}`)];
      const group =
        !distinct && keys.length > 0 ? ` GROUP BY ${keys.map((_, j) => (rand() < 0.5 ? `k${j}` : String(j + 1))).join(', ')}` : '';
      const having = !distinct && rand() < 0.5 ? pick(HAVINGS) : '';
      const order =
        rand() < 0.6 ? ` ORDER BY ${rand() < 0.5 && keys.length ? 'k0' : distinct ? '1' : 'a0'}${rand() < 0.5 ? ' DESC' : ''}` : '';
      const limit = rand() < 0.5 ? (rand() < 0.5 ? ' LIMIT ?' : ' LIMIT ?, ?') : '';
      const sql = `SELECT ${distinct ? 'DISTINCT ' : ''}${cols.join(', ')} FROM users u${pick(WHERES)}${group}${having}${order}${limit}`;
      const params: SqlParam[] = Array.from({ length: countParams(sql) }, () => Math.floor(rand() * 10));
      try {
        const p = plan(analyze(sql, topology), params, topology, { scatter: true, unionChunk: 4 });
        expect(p.targets).toHaveLength(256);
        for (const t of p.targets) expect([sql, countParams(t.sql)]).toEqual([sql, t.params.length]);
        planned++;
      } catch (err) {
        if (!isShardlineError(err)) throw new Error(`${sql}: ${String(err)}`, { cause: err });
        expect([sql, err.code]).toEqual([sql, expect.stringMatching(/^(SQL_UNSUPPORTED|SQL_PARSE)$/)]);
      }
    }
    expect(planned).toBeGreaterThan(120);
  });
});
