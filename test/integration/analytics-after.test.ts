import { randomBytes } from 'node:crypto';
import { ALL_SECTIONS, loadClusterConfig, requireSections } from '../../src/config/index.js';
import { isShardlineError } from '../../src/errors/index.js';
import { createRouter, type Router, type SqlParam, type WriteResult } from '../../src/index.js';
import { WorkerProcess, writeCdcTestConfig } from '../support/cdc.js';
import { shardline } from '../support/cluster.js';

// Issue 18 item 2: analytics on the archive with `after` (read-your-writes through the CDC), the
// staleness bound, and router.indexed (search-after-write) — against a real worker, Kafka, the
// archive (MySQL 8.0) and Elasticsearch. The oracle is the write itself: a query with its token
// must see it every time, and a search after `indexed` must find it without any refresh of ours.
const NAME = `it_analytics_${process.pid}`;
const file = writeCdcTestConfig(NAME, { batchMaxMs: 20 });
const config = requireSections(loadClusterConfig(file), ALL_SECTIONS, 'the analytics test');
const worker = new WorkerProcess(file, 19521);
const BASE = 9_610_000_000n + BigInt(process.pid % 1000) * 10_000_000n;
const SPAN = 10_000_000n;
let router: Router;

/** A write through the router; its result (with the write token). */
const write = async (uid: bigint, sql: string, params: readonly SqlParam[]): Promise<WriteResult & { token: string }> => {
  const r = (await router.forUid(uid).query(sql, params)) as WriteResult;
  if (!r.token) throw new Error(`a write without a token: ${JSON.stringify(r)}`);
  return { ...r, token: r.token };
};

async function search(uid: bigint): Promise<number> {
  const res = await fetch(`${config.elasticsearch.node}/${config.cdc.elasticsearch.indexPrefix}users/_search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: { term: { uid: String(uid) } } }),
  });
  const body = (await res.json()) as { hits?: { total: { value: number } }; error?: unknown };
  if (!body.hits) throw new Error(`search failed: ${JSON.stringify(body).slice(0, 300)}`);
  return body.hits.total.value;
}

beforeAll(async () => {
  shardline('migrate');
  worker.start();
  await worker.waitReading(config.instances.map((i) => i.name));
  router = await createRouter(config);
}, 180_000);

afterAll(async () => {
  await router?.query(`DELETE FROM users WHERE uid >= ? AND uid < ?`, [BASE, BASE + SPAN], { scatter: true }).catch(() => undefined);
  await router?.close();
  await worker.stop();
});

it('a query with the token of a write always sees that write (insert, update, delete), on every instance', async () => {
  const rounds = 150;
  let waited = 0;
  const uids: bigint[] = [];
  const named = new Set<string>();
  for (let i = 0; i < rounds; i++) {
    const uid = BASE + BigInt(i * 7919);
    uids.push(uid);
    const name = `a-${randomBytes(6).toString('hex')}`;
    const w = await write(uid, 'INSERT INTO users (uid, name, balance) VALUES (?, ?, ?)', [uid, name, '1.50']);
    for (const m of w.token.matchAll(/~([^=~]+)=/g)) named.add(m[1]!);
    const t0 = performance.now();
    const rows = await router.analytics.query<{ name: string; balance: string }>('SELECT name, balance FROM users WHERE uid = ?', [uid], {
      after: w.token,
    });
    if (performance.now() - t0 > 5) waited++;
    expect(rows).toEqual([{ name, balance: '1.50' }]);
    if (i % 10 === 0) {
      const u = await write(uid, 'UPDATE users SET name = ? WHERE uid = ?', [`${name}-u`, uid]);
      expect(
        (await router.analytics.query<{ name: string }>('SELECT name FROM users WHERE uid = ?', [uid], { after: u.token }))[0]?.name,
      ).toBe(`${name}-u`);
      const d = await write(uid, 'DELETE FROM users WHERE uid = ?', [uid]);
      // the view hides the archive's tombstone
      expect(await router.analytics.query('SELECT uid FROM users WHERE uid = ?', [uid], { after: d.token })).toEqual([]);
    }
  }
  process.stderr.write(`[analytics] ${rounds} writes read back through the archive; ${waited} had to wait for the sink\n`);
  expect(waited).toBeGreaterThan(0);
  // the archive pool those queries used, as router.analytics.health() shows it
  const health = router.analytics.health();
  expect(health).toMatchObject({ name: config.archive.name, host: config.archive.host, port: config.archive.port, breaker: 'closed' });
  expect(health!.pool.size).toBeGreaterThanOrEqual(1);
  expect(health!.pool.max).toBe(config.router.analytics.poolSize);
  // the tokens named every instance the uids live on
  expect([...named].sort()).toEqual([...new Set(uids.map((u) => router.topology.map.instanceOf(router.topology.shardOf(u))))].sort());
  expect(named.size).toBeGreaterThanOrEqual(4);
  const left = await router.analytics.query<{ n: number | string }>(
    `SELECT COUNT(*) AS n FROM users WHERE uid IN (${uids.map(() => '?').join(', ')})`,
    uids,
    { maxStalenessMs: 5_000 },
  );
  expect(Number(left[0]!.n)).toBe(rounds - rounds / 10);
}, 300_000);

it('joins, GROUP BY and window functions run on the archive over logical names', async () => {
  const uid = BASE + 99_000n;
  await write(uid, 'INSERT INTO users (uid, name) VALUES (?, ?)', [uid, 'joiner']);
  let last = '';
  for (let o = 1; o <= 3; o++) {
    const w = await write(uid, 'INSERT INTO orders (uid, order_id, amount, status, created_at) VALUES (?, ?, ?, ?, NOW(6))', [
      uid,
      o,
      `${o}0.00`,
      'paid',
    ]);
    last = w.token;
  }
  const rows = await router.analytics.query<{ name: string; n: number | string; total: string; rnk: number | string }>(
    `SELECT u.name, COUNT(*) AS n, SUM(o.amount) AS total, RANK() OVER (ORDER BY SUM(o.amount) DESC) AS rnk
       FROM users u JOIN orders o ON o.uid = u.uid WHERE u.uid = ? GROUP BY u.name`,
    [uid],
    { after: last },
  );
  expect(rows.map((r) => [r.name, Number(r.n), r.total, Number(r.rnk)])).toEqual([['joiner', 3, '60.00', 1]]);
  await write(uid, 'DELETE FROM orders WHERE uid = ?', [uid]);
  // analytics cannot write
  await expect(router.analytics.query('DELETE FROM users WHERE uid = ?', [uid])).rejects.toThrow();
}, 120_000);

it('router.indexed resolves once a search finds the write (search-after-write)', async () => {
  for (let i = 0; i < 20; i++) {
    const uid = BASE + 50_000n + BigInt(i * 104_729);
    const w = await write(uid, 'INSERT INTO users (uid, name) VALUES (?, ?)', [uid, `s-${i}`]);
    await router.indexed(w.token, { sink: 'elasticsearch', maxWaitMs: 20_000 });
    expect(await search(uid)).toBe(1);
  }
}, 180_000);

it('with the worker stopped, `after` gives up with SINK_BEHIND past maxWaitMs; once it runs again the query answers', async () => {
  await worker.stop();
  const uid = BASE + 77_777n;
  const w = await write(uid, 'INSERT INTO users (uid, name) VALUES (?, ?)', [uid, 'late']);
  const err = await router.analytics
    .query('SELECT name FROM users WHERE uid = ?', [uid], { after: w.token, maxWaitMs: 600 })
    .catch((e: unknown) => e);
  expect(isShardlineError(err) && err.code).toBe('SINK_BEHIND');
  expect(isShardlineError(err) && err.retriable).toBe(true);
  await expect(router.indexed(w.token, { sink: 'elasticsearch', maxWaitMs: 300 })).rejects.toMatchObject({ code: 'SINK_BEHIND' });
  // a staleness bound cannot be met while nothing publishes progress
  await expect(router.analytics.query('SELECT 1 AS one', [], { maxStalenessMs: 100, maxWaitMs: 800 })).rejects.toMatchObject({
    code: 'SINK_BEHIND',
  });
  worker.start();
  await worker.waitReading(config.instances.map((i) => i.name));
  expect(await router.analytics.query('SELECT name FROM users WHERE uid = ?', [uid], { after: w.token, maxWaitMs: 30_000 })).toEqual([
    { name: 'late' },
  ]);
  await expect(router.analytics.query('SELECT 1 AS one', [], { maxStalenessMs: 2_000, maxWaitMs: 10_000 })).resolves.toHaveLength(1);
}, 180_000);
