import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import { Topology } from '../../src/shard/index.js';
import { analyze, lex, plan, type PlanOptions, type SqlParam } from '../../src/sql/index.js';
import { sessionStateUse } from '../../src/sql/session-state.js';
import { failure } from '../support/thrown.js';

const config = loadClusterConfig(bundledClusterConfig, {});
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
const route = (sql: string, params: SqlParam[] = [], options: PlanOptions = {}) => plan(analyze(sql, topology), params, topology, options);
const inTransaction: PlanOptions = { shard: 136, pinnedBy: 'transaction' };
const inSession: PlanOptions = { shard: 136, pinnedBy: 'forUid' };

// Each of these reads or leaves state on the connection it runs on: outside a transaction the
// next statement may borrow another pooled connection (and another caller gets this one).
const CONNECTION_STATE: Array<[string, SqlParam[], string, boolean]> = [
  ['SELECT LAST_INSERT_ID()', [], 'LAST_INSERT_ID()', false],
  ['SELECT last_insert_id ( ) AS id', [], 'LAST_INSERT_ID()', false],
  ['SELECT @@identity', [], '@@identity', false],
  ['SELECT @@SESSION.last_insert_id', [], '@@last_insert_id', false],
  ['SELECT FOUND_ROWS()', [], 'FOUND_ROWS()', false],
  ['SELECT @@warning_count, @@error_count', [], '@@warning_count', false],
  ['SELECT @@session.last_gtid', [], '@@last_gtid', false],
  ['SELECT LASTVAL(seq)', [], 'LASTVAL()', false],
  ['SELECT ROW_COUNT()', [], 'ROW_COUNT()', false],
  ['SELECT SQL_CALC_FOUND_ROWS name FROM users WHERE uid = ? LIMIT 1', [42], 'SQL_CALC_FOUND_ROWS', true],
  ['SELECT SQL_CALC_FOUND_ROWS name FROM users LIMIT 10', [], 'SQL_CALC_FOUND_ROWS', true],
  ['SELECT GET_LOCK(?, 10) FROM users WHERE uid = ?', ['job', 42], 'GET_LOCK()', true],
  ['SELECT RELEASE_LOCK(?)', ['job'], 'RELEASE_LOCK()', true],
  ['SELECT release_all_locks()', [], 'RELEASE_ALL_LOCKS()', true],
  ['SELECT name INTO @v FROM users WHERE uid = ?', [42], 'SELECT … INTO a variable', true],
  ['SELECT name FROM users WHERE uid = ? INTO @v', [42], 'SELECT … INTO a variable', true],
  ['SELECT COUNT(*) FROM users INTO @c', [], 'SELECT … INTO a variable', true],
  ['SELECT @v := name FROM users WHERE uid = ?', [42], 'the user variable @v', true],
  ['SELECT name FROM users WHERE uid = ? AND name = @v', [42], 'the user variable @v', false],
  ['UPDATE users SET name = @v WHERE uid = ?', [42], 'the user variable @v', false],
  ['INSERT INTO users (uid, name) VALUES (?, @v)', [42], 'the user variable @v', false],
  ['UPDATE users SET name = LAST_INSERT_ID(7) WHERE uid = ?', [42], 'LAST_INSERT_ID(…)', true],
];

describe('statements that use their connection’s state', () => {
  it.each(CONNECTION_STATE)('refuses %s outside a transaction, naming %s', (sql, params, what) => {
    for (const options of [{}, { scatter: true }, inSession]) {
      const err = failure(() => route(sql, params, options));
      expect(err.code).toBe('SQL_UNSUPPORTED');
      expect(err.message).toContain(what);
      expect(err.message).toContain('transaction');
    }
  });

  it.each(CONNECTION_STATE)('runs %s verbatim inside a transaction (sets state: %s)', (sql, params, _what, sets) => {
    const p = route(sql, params, inTransaction);
    expect(p.targets).toHaveLength(1);
    expect(p.targets[0]!.sql).toMatch(/INTO @|@v|LAST_INSERT_ID|FOUND_ROWS|ROW_COUNT|LASTVAL|@@|LOCK/i);
    expect(p.setsSession === true).toBe(sets);
  });

  it('keeps the INTO of a grouped scatter from being dropped: the statement is refused, not rewritten', () => {
    // Before: `SELECT COUNT(*) FROM users INTO @c` was rewritten into a SUM over the shards without the INTO.
    const err = failure(() => route('SELECT COUNT(*) FROM users INTO @c', [], { scatter: true }));
    expect(err.message).toContain('INTO');
  });

  it.each([
    ["SELECT name FROM users WHERE uid = ? INTO OUTFILE '/tmp/users.txt'", 'SELECT … INTO OUTFILE'],
    ["SELECT name FROM users WHERE uid = ? INTO DUMPFILE '/tmp/users.bin'", 'SELECT … INTO DUMPFILE'],
    ["SELECT name FROM users INTO outfile '/var/lib/mysql-files/u'", 'SELECT … INTO OUTFILE'],
    ["SELECT @v := name FROM users WHERE uid = ? INTO OUTFILE '/tmp/x'", 'SELECT … INTO OUTFILE'],
  ])('refuses %s everywhere, transactions included', (sql, what) => {
    const params = sql.includes('?') ? [42] : [];
    for (const options of [{}, { scatter: true }, inSession, inTransaction]) {
      const err = failure(() => route(sql, params, options));
      expect(err.code).toBe('SQL_UNSUPPORTED');
      expect(err.message).toContain(what);
      expect(err.message).toContain('file on the database server');
    }
  });

  it.each([
    ["SELECT name FROM users WHERE uid = ? AND name = '@v := 1'", [42]],
    ["SELECT name FROM users WHERE uid = ? AND name = 'LAST_INSERT_ID()' -- GET_LOCK(x)", [42]],
    ['SELECT name FROM users WHERE uid = ? /* INTO @v, FOUND_ROWS() */', [42]],
    ['SELECT `last_insert_id` FROM users WHERE uid = ?', [42]],
    ['SELECT u.row_count FROM users u WHERE u.uid = ?', [42]],
    ['SELECT @@session.sql_mode, @@max_allowed_packet, @@constructor, @@__proto__ FROM users WHERE uid = ?', [42]],
    ['SELECT IS_USED_LOCK(?), CONNECTION_ID() FROM users WHERE uid = ?', ['job', 42]],
    ['INSERT INTO users (uid, name) VALUES (?, ?)', [42, '@v']],
  ])('routes %s (no connection state: strings, comments, columns, system variables)', (sql, params) => {
    const p = route(sql, params as SqlParam[]);
    expect(p.shards).toEqual([136]);
    expect(p.setsSession).toBeUndefined();
  });

  it('does not take a function named like an Object member for a session function (the parser refuses these; the scan must not depend on it)', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty'])
      expect(sessionStateUse(lex(`SELECT ${name}(name) FROM users`).tokens, 'select')).toBeNull();
  });
});
