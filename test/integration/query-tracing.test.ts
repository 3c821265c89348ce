import { randomBytes } from 'node:crypto';
import { tracingChannel } from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import { createRouter, type Router } from '../../src/index.js';
import { shardline, testConfig } from '../support/cluster.js';

const config = testConfig();
// Bound values that must never reach a subscriber: long enough that no duration or shard number contains them.
const uid = 8_000_000_000_000n + BigInt(randomBytes(4).readUInt32BE(0));
const otherUid = uid + 1n;
const secretName = `name-${randomBytes(8).toString('hex')}`;
const secretEmail = `mail-${randomBytes(8).toString('hex')}@example.com`;
const secretUpdate = `upd-${randomBytes(8).toString('hex')}`;
const bound = [String(uid), String(otherUid), secretName, secretEmail, secretUpdate];

interface Ctx {
  operation: string;
  sql: string;
  route: string | null;
  shards: number[];
  instances: string[];
  durationMs: number;
  error?: { code?: string };
}
type Event = { kind: 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error'; ctx: Ctx; route: string | null };

let router: Router;
const events: Event[] = [];
const record = (kind: Event['kind']) => (ctx: unknown) => events.push({ kind, ctx: ctx as Ctx, route: (ctx as Ctx).route });
const handlers = {
  start: record('start'),
  end: record('end'),
  asyncStart: record('asyncStart'),
  asyncEnd: record('asyncEnd'),
  error: record('error'),
};
const channel = tracingChannel('shardline:query');

/** The contexts published since `from`, once each, with the kinds each went through. */
function traced(from: number): { ctx: Ctx; kinds: string[]; routeAtStart: string | null }[] {
  const out = new Map<Ctx, { ctx: Ctx; kinds: string[]; routeAtStart: string | null }>();
  for (const e of events.slice(from)) {
    const t = out.get(e.ctx) ?? { ctx: e.ctx, kinds: [], routeAtStart: e.route };
    t.kinds.push(e.kind);
    out.set(e.ctx, t);
  }
  return [...out.values()];
}

beforeAll(async () => {
  shardline('migrate'); // the tables, when this file runs first on a fresh cluster
  router = await createRouter(config);
  await router.query('DELETE FROM users WHERE uid IN (?, ?)', [uid, otherUid], { scatter: true });
  channel.subscribe(handlers);
});

afterAll(async () => {
  channel.unsubscribe(handlers);
  await router.query('DELETE FROM users WHERE uid IN (?, ?)', [uid, otherUid], { scatter: true });
  await router?.close();
});

describe('shardline:query on the real cluster', () => {
  const at = () => router.topology.locate(uid);

  it('a point write and a point read: route single, the shard and instance of the uid, the SQL with its placeholders', async () => {
    const from = events.length;
    const insert = 'INSERT INTO users (uid, name, email) VALUES (?, ?, ?)';
    const select = 'SELECT name, email FROM users WHERE uid = ?';
    await router.query(insert, [uid, secretName, secretEmail]);
    const rows = await router.select<{ name: string }>(select, [uid]);
    expect(rows[0]?.name).toBe(secretName);
    const t = traced(from);
    expect(t.map((x) => [x.ctx.operation, x.ctx.sql])).toEqual([
      ['query', insert],
      ['select', select],
    ]);
    for (const x of t) {
      expect(x.kinds).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
      expect(x.routeAtStart).toBeNull(); // planned inside the trace
      expect(x.ctx).toMatchObject({ route: 'single', shards: [at().shard], instances: [at().instance] });
      expect(x.ctx.durationMs).toBeGreaterThan(0);
      expect((x.ctx as { result?: unknown }).result).toBeUndefined(); // rows are not published
    }
  });

  it('a scatter: every shard on every instance that holds shards', async () => {
    const from = events.length;
    await router.select('SELECT COUNT(*) AS n FROM users WHERE name = ?', [secretName], { scatter: true });
    const [t, ...more] = traced(from);
    expect(more).toEqual([]);
    expect(t!.kinds).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(t!.ctx.route).toBe('scatter');
    expect(t!.ctx.shards).toEqual(Array.from({ length: router.topology.map.shardCount }, (_, i) => i));
    // an instance that holds no shard (shard-4 until a move) is not asked
    const owners = new Set(t!.ctx.shards.map((s: number) => router.topology.map.instanceOf(s)));
    expect(owners.size).toBeGreaterThanOrEqual(4);
    expect([...t!.ctx.instances].sort()).toEqual([...owners].sort());
  });

  it('a failing query (duplicate key): error published with its code, the route still known', async () => {
    const from = events.length;
    await expect(
      router.query('INSERT INTO users (uid, name, email) VALUES (?, ?, ?)', [uid, secretName, secretEmail]),
    ).rejects.toMatchObject({
      code: 'QUERY_FAILED',
    });
    const [t, ...more] = traced(from);
    expect(more).toEqual([]);
    expect(t!.kinds).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    expect(t!.ctx.error).toMatchObject({ code: 'QUERY_FAILED' });
    expect(t!.ctx).toMatchObject({ route: 'single', shards: [at().shard], instances: [at().instance] });
  });

  it('a refused statement (no shard key, no scatter) is traced as an error with no route', async () => {
    const from = events.length;
    await expect(router.query('SELECT * FROM users WHERE name = ?', [secretName])).rejects.toMatchObject({ code: 'SHARD_KEY_MISSING' });
    const [t] = traced(from);
    expect(t!.kinds).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    expect(t!.ctx).toMatchObject({ route: null, shards: [], instances: [], error: { code: 'SHARD_KEY_MISSING' } });
  });

  it('a transaction: BEGIN, each statement and COMMIT on its shard; a cross-shard statement fails and ROLLBACK is traced', async () => {
    let from = events.length;
    const update = 'UPDATE users SET name = ? WHERE uid = ?';
    await router.forUid(uid).transaction(async (tx) => tx.query(update, [secretUpdate, uid]));
    let t = traced(from);
    expect(t.map((x) => [x.ctx.operation, x.ctx.sql, x.kinds.join()])).toEqual([
      ['transaction', 'BEGIN', 'start,end,asyncStart,asyncEnd'],
      ['transaction', update, 'start,end,asyncStart,asyncEnd'],
      ['transaction', 'COMMIT', 'start,end,asyncStart,asyncEnd'],
    ]);
    for (const x of t) expect(x.ctx).toMatchObject({ route: 'single', shards: [at().shard], instances: [at().instance] });

    const elsewhere = (() => {
      for (let u = otherUid; ; u++) if (router.topology.locate(u).shard !== at().shard) return u;
    })();
    bound.push(String(elsewhere));
    from = events.length;
    await expect(
      router.forUid(uid).transaction(async (tx) => tx.query('SELECT name FROM users WHERE uid = ?', [elsewhere])),
    ).rejects.toMatchObject({ code: 'CROSS_SHARD_TRANSACTION' });
    t = traced(from);
    expect(t.map((x) => [x.ctx.sql, x.kinds.includes('error') ? 'error' : 'ok'])).toEqual([
      ['BEGIN', 'ok'],
      ['SELECT name FROM users WHERE uid = ?', 'error'],
      ['ROLLBACK', 'ok'],
    ]);
    expect(t[1]!.ctx).toMatchObject({ route: null, error: { code: 'CROSS_SHARD_TRANSACTION' } });
  });

  it('a stream: traced from its first read until it is over — read to the end, left early, or failed', async () => {
    const from = events.length;
    const point = 'SELECT name FROM users WHERE uid = ?';
    const rows: unknown[] = [];
    for await (const row of router.stream(point, [uid])) rows.push(row);
    expect(rows).toHaveLength(1);
    const scatter = 'SELECT uid FROM users WHERE name LIKE ?';
    for await (const row of router.stream(scatter, [`${secretName.slice(0, 8)}%`], { scatter: true })) {
      expect(row).toBeDefined();
      break;
    }
    const bad = 'SELECT no_such_column FROM users WHERE uid = ?';
    await expect(
      (async () => {
        for await (const row of router.stream(bad, [uid])) rows.push(row);
      })(),
    ).rejects.toMatchObject({ code: 'QUERY_FAILED' });
    const t = traced(from);
    expect(t.map((x) => [x.ctx.operation, x.ctx.sql, x.kinds.join()])).toEqual([
      ['stream', point, 'start,end,asyncStart,asyncEnd'],
      ['stream', scatter, 'start,end,asyncStart,asyncEnd'],
      ['stream', bad, 'start,end,error,asyncStart,asyncEnd'],
    ]);
    expect(t[0]!.routeAtStart).toBeNull();
    expect(t[0]!.ctx).toMatchObject({ route: 'single', shards: [at().shard], instances: [at().instance] });
    expect(t[1]!.ctx.route).toBe('scatter');
    expect(t[2]!.ctx.error).toMatchObject({ code: 'QUERY_FAILED' });
    for (const x of t) expect(x.ctx.durationMs).toBeGreaterThan(0);
  });

  it('no bound value appears in any published object (errors, their causes and details included)', () => {
    expect(events.length).toBeGreaterThan(20);
    const seen = new Set(events.map((e) => e.ctx));
    for (const ctx of seen) {
      const text = inspect(ctx, { depth: Infinity, showHidden: true, maxStringLength: Infinity, maxArrayLength: Infinity });
      for (const value of bound) expect(text).not.toContain(value);
    }
    // The oracle sees a value where there is one: the duplicate-key error's cause is in the text.
    const failed = [...seen].find((c) => c.error && (c.error as { code?: string }).code === 'QUERY_FAILED');
    expect(inspect(failed, { depth: Infinity })).toContain('Duplicate entry');
  });

  it('without a subscriber nothing is published', async () => {
    channel.unsubscribe(handlers);
    try {
      const from = events.length;
      await router.select('SELECT name FROM users WHERE uid = ?', [uid]);
      expect(events.length).toBe(from);
    } finally {
      channel.subscribe(handlers);
    }
  });
});
