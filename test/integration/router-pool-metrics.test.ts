import { Registry } from 'prom-client';
import { createRouter, ShardUnavailableError } from '../../src/index.js';
import { parseClusterConfig } from '../../src/config/index.js';
import { testConfig } from '../support/cluster.js';

const base = testConfig();

describe('router pools and metrics', () => {
  it('rejects with POOL_EXHAUSTED when the wait queue is full, and POOL_TIMEOUT when no connection frees up', async () => {
    // one connection, one wait slot: the first query holds the connection for 1 s (an aggregate: one
    // row, so SLEEP runs once even on an empty table), the second waits
    // in the slot and times out, the third finds the slot taken (each started once the pool shows the
    // previous one borrowing or waiting, so the order is the pool's, not the event loop's)
    const config = parseClusterConfig({
      ...structuredClone(base),
      router: { ...(base.router ?? {}), shardMapCheckMs: 0 },
      pool: { min: 0, max: 1, acquireTimeoutMs: 300, maxWaitingClients: 1 },
    });
    const router = await createRouter(config);
    try {
      const session = router.forUid(42n);
      const pool = () => router.health().find((h) => h.instance === 'shard-0')!.pool;
      const until = async (ok: () => boolean) => {
        for (const deadline = Date.now() + 5000; !ok() && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 2));
        expect(ok()).toBe(true);
      };
      const first = session.query('SELECT COUNT(*) AS n, SLEEP(1) AS s FROM users');
      await until(() => pool().borrowed === 1);
      const second = session.query('SELECT 1 AS x FROM users LIMIT 1');
      await until(() => pool().pending === 1);
      const third = session.query('SELECT 2 AS x FROM users LIMIT 1');
      const results = await Promise.allSettled([first, second, third]);
      const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as ShardUnavailableError).code : 'ok'));
      expect(codes).toEqual(['ok', 'POOL_TIMEOUT', 'POOL_EXHAUSTED']);
      const err = (results[2] as PromiseRejectedResult).reason as ShardUnavailableError;
      expect(err).toBeInstanceOf(ShardUnavailableError);
      expect(err.retriable).toBe(true);
      expect(err.message).toMatch(/instance shard-0 \(shards 0-255\)/);
      expect(router.health().find((h) => h.instance === 'shard-0')!.pool).toMatchObject({ borrowed: 0, pending: 0 });
    } finally {
      await router.close();
    }
  });

  it('reports route kinds, latency, pool state and plan-cache use on the injected registry', async () => {
    const registry = new Registry();
    const router = await createRouter({ config: base, registry });
    try {
      await router.select('SELECT name FROM users WHERE uid = ?', [1n]);
      await router.select('SELECT name FROM users WHERE uid = ?', [2n]);
      await router.select('SELECT COUNT(*) AS n FROM users', [], { scatter: true });
      await expect(router.query('SELECT * FROM users')).rejects.toMatchObject({ code: 'SHARD_KEY_MISSING' });
      const text = await registry.metrics();
      expect(text).toMatch(/shardline_router_queries_total\{route="single",statement="select"\} 2/);
      expect(text).toMatch(/shardline_router_queries_total\{route="scatter",statement="select"\} 1/);
      expect(text).toMatch(/shardline_plan_cache_lookups_total\{result="hit"\} 1/);
      expect(text).toMatch(/shardline_plan_cache_lookups_total\{result="miss"\} 3/);
      expect(text).toMatch(/shardline_instance_query_duration_seconds_count\{instance="shard-3"\} [1-9]/);
      expect(text).toMatch(/shardline_pool_connections\{instance="shard-0",state="open"\} [1-9]/);
    } finally {
      await router.close();
    }
  });

  it('counts streams with the routed statements, and a failed stream with its code', async () => {
    const registry = new Registry();
    const router = await createRouter({ config: base, registry });
    const drain = async (rows: AsyncIterable<unknown>) => {
      for await (const row of rows) expect(row).toBeDefined();
    };
    try {
      await drain(router.stream('SELECT name FROM users WHERE uid = ?', [1n]));
      await drain(router.stream('SELECT uid FROM users WHERE uid IN (?, ?)', [1n, 2n]));
      await drain(router.stream('SELECT uid FROM users WHERE uid < ?', [0n], { scatter: true }));
      await expect(drain(router.stream('SELECT no_such_column FROM users WHERE uid = ?', [3n]))).rejects.toMatchObject({
        code: 'QUERY_FAILED',
      });
      await expect(drain(router.stream('SELECT name FROM users'))).rejects.toMatchObject({ code: 'SHARD_KEY_MISSING' });
      const text = await registry.metrics();
      const count = (route: string) =>
        Number(text.match(new RegExp(`shardline_router_queries_total\\{route="${route}",statement="select"\\} (\\d+)`))?.[1] ?? 0);
      // 1n and 2n may share a shard: the IN list is then single, else multi
      expect(count('single') + count('multi')).toBe(3);
      expect(count('scatter')).toBe(1);
      expect(text).toMatch(/shardline_router_query_failures_total\{route="single",code="QUERY_FAILED"\} 1/);
      expect(text).not.toMatch(/SHARD_KEY_MISSING/); // refused before it was routed, as router.query
    } finally {
      await router.close();
    }
  });
});
