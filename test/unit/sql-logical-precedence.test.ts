import sqlParser from 'node-sql-parser/build/mysql.js';
import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import type { ShardlineError } from '../../src/errors/index.js';
import { Topology } from '../../src/shard/index.js';
import { analyze, plan, type SqlParam } from '../../src/sql/index.js';
import { fixLogicalPrecedence } from '../../src/sql/logical-precedence.js';

const config = loadClusterConfig(bundledClusterConfig, {});
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
const route = (sql: string, params: SqlParam[] = []) => plan(analyze(sql, topology), params, topology);
const parser = new sqlParser.Parser();

type N = Record<string, unknown>;
/** Fully parenthesised text of a WHERE tree, written independently of the fix. */
const show = (e: N): string =>
  e['type'] === 'binary_expr'
    ? `(${show(e['left'] as N)} ${String(e['operator'])} ${show(e['right'] as N)})`
    : e['type'] === 'unary_expr'
      ? `${String(e['operator'])} ${show(e['expr'] as N)}`
      : String(e['column'] ?? e['value']);
const where = (sql: string) => show(fixLogicalPrecedence(parser.astify(sql) as unknown as N)['where'] as N);

describe('AND / XOR / OR precedence (node-sql-parser reads them left to right)', () => {
  it.each([
    ['SELECT 1 FROM t WHERE a OR b AND c', '(a OR (b AND c))'],
    ['SELECT 1 FROM t WHERE a AND b OR c AND d', '((a AND b) OR (c AND d))'],
    ['SELECT 1 FROM t WHERE a OR b XOR c AND d', '(a OR (b XOR (c AND d)))'],
    ['SELECT 1 FROM t WHERE a || b && c', '(a || (b && c))'],
    ['SELECT 1 FROM t WHERE (a OR b) AND c', '((a OR b) AND c)'],
    ['SELECT 1 FROM t WHERE a AND (b OR c AND d) OR e', '((a AND (b OR (c AND d))) OR e)'],
    ['SELECT 1 FROM t WHERE a = 1 AND NOT b = 2 OR c = 3', '(((a = 1) AND NOT (b = 2)) OR (c = 3))'],
    ['SELECT 1 FROM t WHERE a AND b AND c OR d OR e', '((((a AND b) AND c) OR d) OR e)'],
  ])('%s', (sql, expected) => {
    expect(where(sql)).toBe(expected);
  });

  it.each([
    'SELECT * FROM users WHERE uid = 1 OR name = ? AND uid = 2',
    'SELECT * FROM users WHERE name = ? OR uid = 2 AND uid = 1',
    'DELETE FROM users WHERE name = ? OR status = 1 AND uid = 2',
    'UPDATE users SET name = 1 WHERE name = ? OR status = 1 AND uid = 2',
    'SELECT * FROM users WHERE name = ? OR status = 1 XOR uid = 2',
  ])('a key predicate under a looser OR does not pin one shard: %s', (sql) => {
    let err: ShardlineError | undefined;
    try {
      route(sql, ['x']);
    } catch (e) {
      err = e as ShardlineError;
    }
    expect(err?.code).toBe('SHARD_KEY_MISSING');
  });

  it('a key predicate ANDed with an OR still pins its shard', () => {
    const p = route('SELECT * FROM users WHERE (name = ? OR status = 1) AND uid = 2', ['x']);
    expect(p.shards).toEqual([525]);
  });
});
