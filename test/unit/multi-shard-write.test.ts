import { MultiShardWriteError, QueryError, ShardUnavailableError, type InstanceWriteOutcome } from '../../src/errors/index.js';
import {
  executeAtomicWrite,
  executeBatchedWrite,
  groupByInstance,
  writeResult,
  type AtomicWriteIo,
  type BatchSession,
} from '../../src/executor/index.js';
import type { BatchReply, BatchStatement } from '../../src/net/index.js';
import type { RoutePlan, RouteTarget } from '../../src/sql/index.js';

const target = (instance: string, shard: number): RouteTarget => ({
  instance,
  shards: [shard],
  sql: `INSERT INTO t_${shard} VALUES (?)`,
  params: [shard],
});
const plan = (targets: RouteTarget[]): RoutePlan => ({
  kind: 'multi',
  statement: 'insert',
  write: true,
  fanOut: false,
  shards: targets.flatMap((t) => t.shards),
  targets,
  merge: { kind: 'sum-affected' },
});

/** A fake server per instance: records every packet; `fail` decides a statement's fate. */
function fakeCluster(fail: (instance: string, sql: string) => 'error' | 'lost' | undefined = () => undefined) {
  const packets: { instance: string; sql: string[] }[] = [];
  const withSession = async <T>(instance: string, fn: (s: BatchSession) => Promise<T>): Promise<T> =>
    fn({
      batch: async (statements: readonly BatchStatement[]): Promise<BatchReply> => {
        packets.push({ instance, sql: statements.map((s) => s.sql) });
        const affectedRows: number[] = [];
        for (const s of statements) {
          const f = fail(instance, s.sql);
          if (f)
            return {
              done: affectedRows.length,
              affectedRows,
              error: Object.assign(new Error(`boom at ${s.sql}`), { errno: 1062 }),
              connectionLost: f === 'lost',
            };
          affectedRows.push(s.sql.startsWith('INSERT') ? 1 : 0);
        }
        return { done: affectedRows.length, affectedRows };
      },
      discard: () => undefined,
    });
  return { packets, withSession };
}

describe('grouping', () => {
  it('groups targets by instance in plan order, shards distinct and ascending', () => {
    const g = groupByInstance([target('a', 5), target('b', 1), target('a', 2), target('a', 5)]);
    expect(g.map((b) => [b.instance, b.shards, b.targets.length])).toEqual([
      ['a', [2, 5], 3],
      ['b', [1], 1],
    ]);
  });
});

describe('batched writes', () => {
  it('sends one packet per instance: START TRANSACTION, its statements, COMMIT', async () => {
    const c = fakeCluster();
    const r = await executeBatchedWrite(plan([target('a', 1), target('b', 2), target('a', 3)]), c.withSession);
    expect(r).toEqual({ affectedRows: 3, insertId: 0 });
    expect(c.packets).toEqual([
      { instance: 'a', sql: ['START TRANSACTION', 'INSERT INTO t_1 VALUES (?)', 'INSERT INTO t_3 VALUES (?)', 'COMMIT'] },
      { instance: 'b', sql: ['START TRANSACTION', 'INSERT INTO t_2 VALUES (?)', 'COMMIT'] },
    ]);
  });

  it('a server error on one instance rolls it back and names who committed', async () => {
    const c = fakeCluster((i, sql) => (i === 'b' && sql.includes('t_2') ? 'error' : undefined));
    const err = await executeBatchedWrite(plan([target('a', 1), target('b', 2), target('c', 3)]), c.withSession).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MultiShardWriteError);
    const e = err as MultiShardWriteError;
    expect([e.committed, e.rolledBack, e.unknown]).toEqual([['a', 'c'], ['b'], []]);
    expect(e.retriable).toBe(false);
    expect(e.instances.find((i) => i.instance === 'b')!.error).toBeInstanceOf(QueryError);
    expect(c.packets.find((p) => p.instance === 'b' && p.sql[0] === 'ROLLBACK')).toBeDefined();
  });

  it('a connection lost during the packet is unknown (its COMMIT may have run)', async () => {
    const c = fakeCluster((i, sql) => (i === 'a' && sql === 'COMMIT' ? 'lost' : undefined));
    const e = (await executeBatchedWrite(plan([target('a', 1), target('b', 2)]), c.withSession).catch(
      (x: unknown) => x,
    )) as MultiShardWriteError;
    expect([e.committed, e.unknown]).toEqual([['b'], ['a']]);
  });
});

describe('write results', () => {
  const o = (instance: string, status: InstanceWriteOutcome['status'], error?: Error): InstanceWriteOutcome => ({
    instance,
    status,
    shards: [1],
    affectedRows: status === 'committed' ? 2 : 0,
    ...(error ? { error } : {}),
  });
  it('sums committed rows', () => {
    expect(writeResult([o('a', 'committed'), o('b', 'committed')], false)).toEqual({ affectedRows: 4, insertId: 0 });
  });
  it('one instance rolled back: its own error', () => {
    const q = new QueryError('QUERY_FAILED', 'x');
    expect(() => writeResult([o('a', 'rolled-back', q)], false)).toThrow(q);
  });
  it('retriable only when nothing was written and every failure is retriable', () => {
    const lost = new ShardUnavailableError('SHARD_UNAVAILABLE', 'down', { retriable: true });
    const all = (() => {
      try {
        writeResult([o('a', 'rolled-back', lost), o('b', 'rolled-back')], false);
      } catch (e) {
        return e as MultiShardWriteError;
      }
    })()!;
    expect(all.retriable).toBe(true);
    expect(() => writeResult([o('a', 'rolled-back', lost), o('b', 'committed')], false)).toThrow(
      expect.objectContaining({ retriable: false, code: 'MULTI_SHARD_WRITE_FAILED' }) as Error,
    );
  });
});

describe('atomic writes (XA)', () => {
  function io(c: ReturnType<typeof fakeCluster>, decide: () => Promise<'commit' | 'rollback'> = async () => 'commit') {
    const log: string[] = [];
    const x: AtomicWriteIo = {
      withSession: c.withSession,
      newGtrid: () => 'shardline:h-1:k:0',
      decide: async (g) => {
        log.push(`decide ${g}`);
        return decide();
      },
      forget: async (g) => void log.push(`forget ${g}`),
      runOnce: async (i, sql) => void log.push(`${i}: ${sql}`),
    };
    return { x, log };
  }
  const xid = (i: string) => `'shardline:h-1:k:0','${i}',21324`;

  it('prepares every branch in one packet, records the decision, then commits each', async () => {
    const c = fakeCluster();
    const { x, log } = io(c);
    const r = await executeAtomicWrite(plan([target('a', 1), target('b', 2)]), x);
    expect(r.affectedRows).toBe(2);
    expect(c.packets.filter((p) => p.instance === 'a').map((p) => p.sql)).toEqual([
      [`XA START ${xid('a')}`, 'INSERT INTO t_1 VALUES (?)', `XA END ${xid('a')}`, `XA PREPARE ${xid('a')}`],
      [`XA COMMIT ${xid('a')}`],
    ]);
    expect(log).toEqual(['decide shardline:h-1:k:0', 'forget shardline:h-1:k:0']);
  });

  it('a failure to prepare on one branch rolls back all, without a decision', async () => {
    const c = fakeCluster((i, sql) => (i === 'b' && sql.startsWith('INSERT') ? 'error' : undefined));
    const { x, log } = io(c);
    const e = (await executeAtomicWrite(plan([target('a', 1), target('b', 2)]), x).catch((err: unknown) => err)) as MultiShardWriteError;
    expect(e).toBeInstanceOf(MultiShardWriteError);
    expect(e.atomic).toBe(true);
    expect([e.committed, e.rolledBack.sort()]).toEqual([[], ['a', 'b']]);
    expect(log).toEqual([]);
    expect(c.packets.filter((p) => p.instance === 'a').map((p) => p.sql[0])).toContain(`XA ROLLBACK ${xid('a')}`);
  });

  it('an abort recorded first by a recovery rolls every branch back', async () => {
    const c = fakeCluster();
    const { x } = io(c, async () => 'rollback');
    const e = (await executeAtomicWrite(plan([target('a', 1), target('b', 2)]), x).catch((err: unknown) => err)) as MultiShardWriteError;
    expect(e.rolledBack.sort()).toEqual(['a', 'b']);
  });

  it('a lost XA COMMIT is finished on a fresh connection', async () => {
    const c = fakeCluster((i, sql) => (i === 'b' && sql.startsWith('XA COMMIT') ? 'lost' : undefined));
    const { x, log } = io(c);
    const r = await executeAtomicWrite(plan([target('a', 1), target('b', 2)]), x);
    expect(r.affectedRows).toBe(2);
    expect(log).toContain(`b: XA COMMIT ${xid('b')}`);
  });

  it('one instance: an ordinary transaction, no XA', async () => {
    const c = fakeCluster();
    await executeAtomicWrite(plan([target('a', 1), target('a', 2)]), io(c).x);
    expect(c.packets).toHaveLength(1);
    expect(c.packets[0]!.sql[0]).toBe('START TRANSACTION');
  });
});
