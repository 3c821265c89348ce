import { crc32 } from 'node:zlib';
import { format } from 'sql-escaper';
import { bundledClusterConfig, loadClusterConfig, parseClusterConfig } from '../../src/config/index.js';
import { Topology } from '../../src/shard/index.js';
import { analyze, plan, PlanCache, type PlanOptions, type SqlParam } from '../../src/sql/index.js';
import { failure } from '../support/thrown.js';

const config = loadClusterConfig(bundledClusterConfig, {});
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
const route = (sql: string, params: SqlParam[] = [], options: PlanOptions = {}) => plan(analyze(sql, topology), params, topology, options);
/** Independent oracle: MySQL's CRC32 of the UID's decimal text, modulo the shard count. */
const shardOf = (uid: number | bigint) => crc32(String(uid)) % 1024;
/** Another UID on the shard of `uid` (found with the oracle). */
function sameShardAs(uid: number): number {
  for (let u = uid + 1; ; u++) if (shardOf(u) === shardOf(uid)) return u;
}

describe('executable comments and hints', () => {
  it.each([
    ['DELETE FROM users WHERE uid = ? /*! OR 1=1 */', [1]],
    ['DELETE FROM users WHERE uid = ? /*M! OR 1=1 */', [1]],
    ['DELETE FROM users WHERE uid = ? /*!80000 OR 1=1 */', [1]],
    ['UPDATE users /*!, app_14.users_0950 o */ SET o.name = ? WHERE users.uid = ?', ['x', 1]],
    ['SELECT name FROM users WHERE uid = ? /*m!100000 UNION SELECT secret FROM other */', [1]],
  ])('refuses %s', (sql, params) => {
    const err = failure(() => route(sql, params as SqlParam[]));
    expect(err.code).toBe('SQL_EXECUTABLE_COMMENT');
  });

  it('passes a plain optimizer hint through verbatim', () => {
    const p = route('SELECT /*+ MAX_EXECUTION_TIME(1000) BKA(u) */ u.name FROM users u WHERE u.uid = ?', [42]);
    expect(p.targets[0]!.sql).toBe('SELECT /*+ MAX_EXECUTION_TIME(1000) BKA(u) */ u.name FROM `app_02`.`users_0136` u WHERE u.uid = ?');
  });

  it.each([
    ['SELECT /*+ MAX_EXECUTION_TIME(?) */ name FROM users WHERE uid = ?', 'SQL_AMBIGUOUS'],
    ["SELECT /*+ SET_VAR(sql_mode='ANSI_QUOTES') */ name FROM users WHERE uid = ?", 'SQL_UNSUPPORTED'],
    ['SELECT /*+ SET_VAR(foreign_key_checks=OFF) */ name FROM users WHERE uid = ?', 'SQL_UNSUPPORTED'],
    ["SELECT /*+ QB_NAME(a) ' */ name FROM users WHERE uid = ? -- '", 'SQL_UNSUPPORTED'],
    ['SELECT /*+ BKA(u) */*FROM users u WHERE uid = ?', 'SQL_UNSUPPORTED'],
  ])('refuses the hint in %s', (sql, code) => {
    expect(failure(() => analyze(sql, topology)).code).toBe(code);
  });
});

describe('UNION, subqueries, derived tables, CTEs and joins', () => {
  it('refuses UNION branches keyed to different shards instead of answering from one', () => {
    const err = failure(() => route('SELECT name FROM users WHERE uid = ? UNION ALL SELECT name FROM users WHERE uid = ?', [42, 1]));
    expect(err.code).toBe('SQL_UNSUPPORTED');
    expect(err.message).toMatch(/different shards \(users → 136; users → 951\)/);
  });

  it('runs UNION branches keyed to one shard as one statement', () => {
    const other = sameShardAs(42);
    const p = route('SELECT name FROM users WHERE uid = ? UNION ALL SELECT name FROM users u WHERE u.uid = ?', [42, other]);
    expect(p.shards).toEqual([136]);
    expect(p.targets).toHaveLength(1);
    expect(p.targets[0]!.sql).toBe(
      'SELECT name FROM `app_02`.`users_0136` WHERE uid = ? UNION ALL SELECT name FROM `app_02`.`users_0136` u WHERE u.uid = ?',
    );
  });

  it.each([
    ['SELECT name FROM users WHERE uid = ? UNION SELECT status FROM orders', [42]],
    ['SELECT name FROM users WHERE uid = ? AND name IN (SELECT status FROM orders)', [42]],
    ['DELETE FROM users WHERE uid = ? AND name IN (SELECT status FROM orders WHERE amount > ?)', [42, 1]],
    ['SELECT u.name FROM users u JOIN orders o ON o.order_id = u.uid WHERE u.uid = ?', [42]],
    ['WITH o AS (SELECT uid FROM orders) SELECT name FROM users WHERE uid = ? AND uid IN (SELECT uid FROM o)', [42]],
    ['SELECT t.n FROM (SELECT COUNT(*) AS n FROM orders) t JOIN users u ON u.uid = t.n WHERE u.uid = ?', [42]],
    ['UPDATE users SET name = (SELECT MAX(status) FROM orders) WHERE uid = ?', [42]],
  ])('refuses %s: a sharded table without its own key would run on one shard', (sql, params) => {
    expect(failure(() => route(sql, params as SqlParam[])).code).toBe('SHARD_KEY_MISSING');
  });

  it('routes correlated subqueries and joins on the shard key with the outer key', () => {
    expect(route('SELECT u.name FROM users u WHERE u.uid = ? AND EXISTS (SELECT 1 FROM orders o WHERE o.uid = u.uid)', [1]).shards).toEqual(
      [951],
    );
    expect(route('SELECT (SELECT MAX(amount) FROM orders o WHERE o.uid = u.uid) AS m FROM users u WHERE u.uid = ?', [1]).shards).toEqual([
      951,
    ]);
    expect(route('SELECT u.name FROM users u LEFT JOIN orders o ON o.uid = u.uid WHERE u.uid IN (?, ?)', [1, 42]).shards).toEqual([
      136, 951,
    ]);
  });

  it('routes a derived table by its own key, not by an outer predicate on its output column', () => {
    const p = route('SELECT * FROM (SELECT uid + 1 AS uid FROM users WHERE uid = ?) t WHERE uid = ?', [42, 1]);
    expect(p.shards).toEqual([136]);
  });

  it('refuses to merge per-shard results of a derived table, CTE or unrelated subquery', () => {
    expect(failure(() => route('SELECT * FROM (SELECT uid FROM users WHERE uid IN (?, ?) ORDER BY name LIMIT 1) t', [1, 42])).code).toBe(
      'SQL_UNSUPPORTED',
    );
    expect(failure(() => route('WITH t AS (SELECT uid FROM users WHERE uid IN (?, ?) LIMIT 1) SELECT * FROM t', [1, 42])).code).toBe(
      'SQL_UNSUPPORTED',
    );
    expect(
      failure(() => route('SELECT code FROM countries WHERE name IN (SELECT name FROM users WHERE uid IN (?, ?))', [1, 42])).code,
    ).toBe('SQL_UNSUPPORTED');
    expect(route('SELECT code FROM countries WHERE name IN (SELECT name FROM users WHERE uid = ?)', [42]).shards).toEqual([136]);
  });

  it('does not scatter joins or subqueries that are not on the shard key', () => {
    expect(failure(() => route('SELECT u.name FROM users u JOIN orders o ON o.order_id = u.uid', [], { scatter: true })).code).toBe(
      'SHARD_KEY_MISSING',
    );
    expect(failure(() => route('SELECT name FROM users WHERE name IN (SELECT status FROM orders)', [], { scatter: true })).code).toBe(
      'SHARD_KEY_MISSING',
    );
    expect(route('SELECT u.name FROM users u JOIN orders o ON o.uid = u.uid', [], { scatter: true }).kind).toBe('scatter');
  });

  it('checks every keyed part against a pinned shard', () => {
    expect(
      failure(() =>
        route('SELECT name FROM users WHERE uid = ? UNION ALL SELECT name FROM users WHERE uid = ?', [42, 1], {
          shard: 136,
          pinnedBy: 'forUid',
        }),
      ).code,
    ).toBe('SQL_UNSUPPORTED');
    expect(
      route('SELECT name FROM users WHERE uid = ? UNION ALL SELECT status FROM orders', [42], { shard: 136, pinnedBy: 'forUid' }).shards,
    ).toEqual([136]);
  });

  it('refuses writes to broadcast tables that read sharded tables (they run on every instance)', () => {
    expect(failure(() => route('INSERT INTO countries (code, name) SELECT email, name FROM users WHERE uid = ?', [42])).code).toBe(
      'SQL_UNSUPPORTED',
    );
    expect(failure(() => route('UPDATE countries SET name = (SELECT name FROM users WHERE uid = ?) WHERE code = ?', [42, 'DE'])).code).toBe(
      'SQL_UNSUPPORTED',
    );
    expect(failure(() => route('UPDATE users u JOIN countries c ON c.code = u.email SET c.name = ? WHERE u.uid = ?', ['x', 42])).code).toBe(
      'SQL_UNSUPPORTED',
    );
  });

  it('refuses LIMIT on a write that touches several shards (each shard would apply it)', () => {
    expect(failure(() => route('DELETE FROM users WHERE uid IN (?, ?) LIMIT 1', [1, 42])).code).toBe('SQL_UNSUPPORTED');
    expect(route('DELETE FROM users WHERE uid = ? LIMIT 1', [1]).shards).toEqual([951]);
  });

  it('reads integer literals as written (no float rounding, no dropped sign)', () => {
    expect(route('SELECT name FROM users WHERE uid = 9007199254740993').shards).toEqual([shardOf(9007199254740993n)]);
    expect(failure(() => route('SELECT name FROM users WHERE uid IN (-5)')).code).toBe('SHARD_KEY_MISSING');
    expect(failure(() => route('SELECT name FROM users WHERE uid = 1.9999999999999999999')).code).toBe('SHARD_KEY_MISSING');
  });
});

describe('the shard key cannot move', () => {
  it.each([
    [
      'INSERT INTO users (uid, name) VALUES (?, ?) ON DUPLICATE KEY UPDATE uid = ?',
      /ON DUPLICATE KEY UPDATE must not change the shard key uid/,
    ],
    [
      'INSERT INTO users (uid, name) VALUES (?, ?) ON DUPLICATE KEY UPDATE name = ?, users.uid = VALUES(uid) + 1',
      /must not change the shard key/,
    ],
    ['UPDATE users u SET u.uid = ? WHERE u.uid = ?', /must not change the shard key/],
    ['INSERT INTO users SET uid = ?, name = ?', /must use VALUES/],
    ['INSERT INTO users (uid, name) SELECT uid + 1, name FROM users WHERE uid = ?', /must use VALUES/],
    ['REPLACE INTO users (uid, name) SELECT uid, name FROM orders WHERE uid = ?', /must use VALUES/],
  ])('refuses %s', (sql, message) => {
    const err = failure(() => analyze(sql, topology));
    expect(err.code).toBe('SQL_UNSUPPORTED');
    expect(err.message).toMatch(message);
  });

  it('routes REPLACE … VALUES by each row’s own key', () => {
    expect(route('REPLACE INTO users (uid, name) VALUES (?, ?)', [1, 'a']).shards).toEqual([951]);
  });
});

describe('placeholders mean the same to the router and mysql2', () => {
  it.each([
    ['SELECT ?? FROM users WHERE uid = ?', 'SQL_AMBIGUOUS'],
    ['SELECT name FROM users WHERE uid = ? /* is it ? */', 'SQL_AMBIGUOUS'],
    ['SELECT name FROM users WHERE uid = ? -- why?', 'SQL_AMBIGUOUS'],
    ['SELECT name FROM users WHERE uid = ? # why?', 'SQL_AMBIGUOUS'],
    ['SELECT name FROM users WHERE uid = 1 --1', 'SQL_AMBIGUOUS'],
    ["SELECT name FROM users WHERE uid = ? AND name = 'x", 'SQL_PARSE'],
    ['SELECT name FROM users WHERE uid = ? /* open', 'SQL_PARSE'],
  ])('refuses %s', (sql, code) => {
    expect(failure(() => analyze(sql, topology)).code).toBe(code);
  });

  it.each([
    ["SELECT 'users ? text', `a?b` FROM users WHERE uid = ? AND name = ?"],
    ["SELECT name FROM users WHERE uid = ? AND name = 'it''s ?' AND email = \"a\\\"?\" AND balance > ?"],
    ['SELECT name FROM users /* plain comment */ WHERE uid = ? AND name = ? -- trailing'],
    ['INSERT INTO users (uid, name) VALUES (?, ?), (?, ?) ON DUPLICATE KEY UPDATE name = ?'],
  ])('sql-escaper substitutes exactly the router’s placeholders in %s', (sql) => {
    const a = analyze(sql, topology);
    const params = Array.from({ length: a.paramCount }, (_, i) => (i === 0 || (a.insert && i === 2) ? 1000 + i : `p${i}`));
    for (const t of plan(a, params, topology).targets) {
      const markers = t.params.map((_, i) => `m${i}m`);
      const out = format(t.sql, [...markers, 'EXTRA']);
      expect(out.includes('EXTRA')).toBe(false);
      let at = -1;
      for (const m of markers) {
        const next = out.indexOf(`'${m}'`);
        expect(next).toBeGreaterThan(at);
        at = next;
      }
    }
  });
});

describe('comments in multi-shard statements', () => {
  it.each(['-- trailing comment', '# trailing comment'])('a trailing %s does not swallow the UNION ALL of a scatter', (comment) => {
    const p = route(`SELECT uid, name FROM users WHERE name = ? ${comment}`, ['x'], { scatter: true });
    const t = p.targets[0]!;
    expect(t.shards).toHaveLength(256);
    expect(t.sql).not.toMatch(/--|#/);
    expect(t.sql.split(' UNION ALL ')).toHaveLength(256);
    expect(t.sql.endsWith(`\`users_${String(t.shards[255]).padStart(4, '0')}\` WHERE name = ?)`)).toBe(true);
  });
});

describe('limits', () => {
  it('refuses a long IN list quickly with a typed error', () => {
    const sql = `SELECT name FROM users WHERE uid IN (${Array(50_000).fill('?').join(',')})`;
    const t0 = performance.now();
    const err = failure(() => analyze(sql, topology));
    expect(err.code).toBe('SQL_TOO_LARGE');
    expect(err.details).toMatchObject({ limit: 1000 });
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it('refuses a statement over the byte limit quickly', () => {
    const sql = `SELECT name FROM users WHERE uid = 1 AND name = '${'é'.repeat(600_000)}'`;
    const t0 = performance.now();
    const err = failure(() => analyze(sql, topology));
    expect(err.code).toBe('SQL_TOO_LARGE');
    expect(err.details).toEqual({ limit: 1 << 20, found: sql.length + 600_000 });
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it.each([
    ['AND', `SELECT * FROM users WHERE uid = 1 AND ${Array(3000).fill('a = 1').join(' AND ')}`],
    ['OR', `SELECT * FROM users WHERE uid = 1 AND (${Array(3000).fill('a = 1').join(' OR ')})`],
    ['+', `SELECT ${Array(3000).fill('1').join(' + ')} FROM users WHERE uid = 1`],
    ['parentheses', `SELECT ${'('.repeat(6000)}1${')'.repeat(6000)} FROM users WHERE uid = 1`],
  ])('a deep %s expression gives a typed error, not a RangeError', (_, sql) => {
    expect(failure(() => analyze(sql, topology)).code).toBe('SQL_TOO_COMPLEX');
  });

  it('takes the limits from the config and the plan cache', () => {
    const parsed = parseClusterConfig({ ...structuredClone(config), router: { limits: { maxInList: 3 } } });
    expect(parsed.router.limits).toEqual({ maxStatementBytes: 1 << 20, maxInList: 3 });
    expect(parsed.router.planCache).toEqual({ maxEntries: 2000, maxBytes: 64 << 20 });
    const cache = new PlanCache(topology, { limits: parsed.router.limits });
    expect(cache.get('SELECT name FROM users WHERE uid IN (?, ?, ?)').paramCount).toBe(3);
    expect(failure(() => cache.get('SELECT name FROM users WHERE uid IN (?, ?, ?, ?)')).code).toBe('SQL_TOO_LARGE');
  });

  it('bounds the plan cache in bytes as well as entries', () => {
    const cache = new PlanCache(topology, { maxEntries: 10_000, maxBytes: 200_000 });
    const filler = 'x'.repeat(10_000);
    for (let i = 0; i < 100; i++) cache.get(`SELECT name FROM users WHERE uid = ${i} AND name <> '${filler}'`);
    expect(cache.bytes()).toBeLessThanOrEqual(200_000);
    expect(cache.stats().size).toBeLessThan(10);
    expect(cache.stats().size).toBeGreaterThan(0);
  });
});
