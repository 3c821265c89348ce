import { RoutingError } from '../../src/errors/index.js';
import { MariadbGtidState, MysqlGtidSet, WriteTokens, applied } from '../../src/gtid/index.js';
import { LagHistory, pickReplica, type ReplicaView } from '../../src/router/replica-lag.js';
import { lex } from '../../src/sql/lexer.js';
import { hasLockingClause } from '../../src/sql/analyze.js';

const A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const B = '4e11fa47-71ca-11e1-9e33-c80aa9429562';

describe('GTID containment', () => {
  it('MySQL: a set contains another when every interval of it lies inside its own', () => {
    const have = MysqlGtidSet.parse(`${A}:1-100:120-130,${B}:1-5`);
    expect(have.contains(MysqlGtidSet.parse(`${A}:50`))).toBe(true);
    expect(have.contains(MysqlGtidSet.parse(`${A}:1-100,${B}:5`))).toBe(true);
    expect(have.contains(MysqlGtidSet.parse(`${A}:101`))).toBe(false);
    expect(have.contains(MysqlGtidSet.parse(`${A}:99-121`))).toBe(false);
    expect(have.contains(MysqlGtidSet.parse(`${B}:6`))).toBe(false);
    expect(have.contains(MysqlGtidSet.parse('4e11fa47-0000-11e1-9e33-c80aa9429562:1'))).toBe(false);
    expect(have.contains(new MysqlGtidSet())).toBe(true);
  });

  it('MySQL: coarsening keeps a superset in one interval per source', () => {
    const s = MysqlGtidSet.parse(`${A}:3:5:7:9`);
    s.coarsen(8);
    expect(s.toString()).toBe(`${A}:3:5:7:9`);
    s.coarsen(2);
    expect(s.toString()).toBe(`${A}:3-9`);
  });

  it('MariaDB: a position covers another when every domain is at or past it', () => {
    const have = MariadbGtidState.parse('0-1-100,1-2-7');
    expect(have.covers(MariadbGtidState.parse('0-3-100'))).toBe(true);
    expect(have.covers(MariadbGtidState.parse('0-1-99,1-2-7'))).toBe(true);
    expect(have.covers(MariadbGtidState.parse('0-1-101'))).toBe(false);
    expect(have.covers(MariadbGtidState.parse('2-1-1'))).toBe(false);
    // sequence numbers compare as numbers, not text
    expect(MariadbGtidState.parse('0-1-10').covers(MariadbGtidState.parse('0-1-9'))).toBe(true);
    expect(MariadbGtidState.parse('0-1-9').covers(MariadbGtidState.parse('0-1-10'))).toBe(false);
  });

  it('never across flavours', () => {
    expect(applied(MysqlGtidSet.parse(`${A}:1-5`), MariadbGtidState.parse('0-1-1'))).toBe(false);
    expect(applied(MariadbGtidState.parse('0-1-1'), MysqlGtidSet.parse(`${A}:1`))).toBe(false);
  });
});

describe('write tokens', () => {
  it('round-trip through their string and merge per instance', () => {
    const t = new WriteTokens();
    t.add('shard-0', `${A}:23`);
    t.add('shard-2', '0-3-120');
    const text = t.toString();
    expect(text).toBe(`w1~shard-0=${A}:23~shard-2=0-3-120`);
    const u = WriteTokens.parse([text, `w1~shard-0=${A}:25~shard-2=0-3-118~shard-3=0-4-9`]);
    expect(u.get('shard-0')!.toString()).toBe(`${A}:23:25`);
    expect(u.get('shard-2')!.toString()).toBe('0-3-120');
    expect(u.get('shard-3')!.toString()).toBe('0-4-9');
    expect(u.get('shard-1')).toBeUndefined();
  });

  it('stay short when a session writes 1,000 times between other sessions’ writes', () => {
    const t = new WriteTokens();
    for (let i = 0; i < 1000; i++) t.add('shard-0', `${A}:${1 + 3 * i}`);
    expect(t.toString().length).toBeLessThan(120);
    expect(applied(t.get('shard-0')!, MysqlGtidSet.parse(`${A}:2998`))).toBe(true);
  });

  it('an empty token is no token', () => {
    expect(WriteTokens.parse('').empty).toBe(true);
    expect(new WriteTokens().toString()).toBe('');
  });

  it.each([
    ['no version', `shard-0=${A}:1`],
    ['another version', `w9~shard-0=${A}:1`],
    ['a bad instance name', `w1~Shard 0=${A}:1`],
    ['no =', 'w1~shard-0'],
    ['a bad GTID', 'w1~shard-0=nonsense:x'],
    ['SQL in it', "w1~shard-0=0-1-1'; DROP TABLE users; --"],
  ])('refuse %s with TOKEN_INVALID', (_why, text) => {
    let error: unknown;
    try {
      WriteTokens.parse(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RoutingError);
    expect((error as RoutingError).code).toBe('TOKEN_INVALID');
  });
});

describe('replica lag from GTIDs', () => {
  const set = (n: number) => MysqlGtidSet.parse(`${A}:1-${n}`);

  it('is 0 for a replica with the newest sample, the age of the newest sample it has otherwise, Infinity beyond the history', () => {
    const h = new LagHistory(10_000);
    expect(h.lagOf(set(1), 0)).toBe(Infinity);
    h.record(1000, set(10));
    h.record(1250, set(20));
    h.record(1500, set(30));
    expect(h.lagOf(set(30), 1510)).toBe(0);
    expect(h.lagOf(set(35), 1510)).toBe(0);
    expect(h.lagOf(set(29), 1510)).toBe(260); // has what the primary had at 1250, not at 1500
    expect(h.lagOf(set(10), 1510)).toBe(510);
    expect(h.lagOf(set(9), 1510)).toBe(Infinity);
  });

  it('forgets samples older than its window but keeps the newest', () => {
    const h = new LagHistory(1000);
    h.record(0, set(1));
    h.record(5000, set(2));
    expect(h.lagOf(set(1), 5100)).toBe(Infinity);
    expect(h.lagOf(set(2), 5100)).toBe(0);
  });
});

describe('picking a replica', () => {
  const r = (name: string, over: Partial<ReplicaView> = {}): ReplicaView => ({
    name,
    weight: 1,
    healthy: true,
    lagMs: 0,
    executed: MysqlGtidSet.parse(`${A}:1-10`),
    breakerOpen: false,
    ...over,
  });

  it('skips unhealthy, lagging, breaker-open and weight-0 replicas; none left means the primary', () => {
    const list = [r('down', { healthy: false }), r('late', { lagMs: 1500 }), r('open', { breakerOpen: true }), r('zero', { weight: 0 })];
    expect(pickReplica(list, 1000, undefined, 0.5)).toBeNull();
    expect(pickReplica([...list, r('ok')], 1000, undefined, 0.99)!.replica.name).toBe('ok');
  });

  it('splits by weight', () => {
    const list = [r('a', { weight: 1 }), r('b', { weight: 3 })];
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 400; i++) counts[pickReplica(list, 1000, undefined, i / 400)!.replica.name as 'a' | 'b']++;
    expect(counts).toEqual({ a: 100, b: 300 });
  });

  it('prefers a replica known to have applied the token; else picks one to wait on', () => {
    const need = MysqlGtidSet.parse(`${A}:12`);
    const behind = r('behind');
    const ahead = r('ahead', { executed: MysqlGtidSet.parse(`${A}:1-12`) });
    expect(pickReplica([behind, ahead], 1000, need, 0)).toEqual({ replica: ahead, covered: true });
    expect(pickReplica([behind], 1000, need, 0)).toEqual({ replica: behind, covered: false });
  });
});

describe('locking reads', () => {
  const locking = (sql: string) => hasLockingClause(lex(sql).tokens);

  it.each([
    'SELECT * FROM users WHERE uid = ? FOR UPDATE',
    'select * from users where uid = ? for share',
    'SELECT * FROM users WHERE uid = ? LOCK IN SHARE MODE',
    'SELECT * FROM users WHERE uid = ? FOR UPDATE NOWAIT',
    'SELECT * FROM users WHERE uid IN (SELECT uid FROM orders WHERE uid = ? FOR UPDATE)',
  ])('%s is one', (sql) => expect(locking(sql)).toBe(true));

  it.each([
    'SELECT * FROM users WHERE uid = ?',
    "SELECT 'FOR UPDATE' FROM users WHERE uid = ?",
    'SELECT * FROM users WHERE uid = ? /* FOR UPDATE */',
    'SELECT `for`, `update` FROM users WHERE uid = ?',
  ])('%s is not', (sql) => expect(locking(sql)).toBe(false));
});
