import { createRouter, ShardUnavailableError } from '../../src/index.js';
import { parseClusterConfig } from '../../src/config/index.js';
import { testConfig } from '../support/cluster.js';
import { settledBorrowed } from '../support/pool-settle.js';

const base = testConfig();

// pool.queryTimeoutMs: a statement that runs too long must not hold its caller or its pooled
// connection forever (a hung query was one way the pool could hang).
describe('router query timeout (pool.queryTimeoutMs)', () => {
  it('fails a routed query that runs past the timeout with a typed, retriable error, and the pool goes on', async () => {
    const config = parseClusterConfig({ ...structuredClone(base), pool: { min: 0, max: 2, queryTimeoutMs: 400 } });
    const router = await createRouter(config);
    try {
      const t0 = performance.now();
      // An aggregate evaluates SLEEP once whether or not the row exists (no test here inserts uid 42).
      const err = (await router.query('SELECT COUNT(*) AS n, SLEEP(5) AS s FROM users WHERE uid = ?', [42n]).then(
        () => null,
        (e: unknown) => e,
      )) as ShardUnavailableError | null;
      const ms = performance.now() - t0;
      expect(err).toBeInstanceOf(ShardUnavailableError);
      expect(err!.code).toBe('SHARD_UNAVAILABLE');
      expect(err!.retriable).toBe(true);
      expect(err!.message).toMatch(/timeout/i);
      expect(ms).toBeGreaterThanOrEqual(390);
      expect(ms).toBeLessThan(2500);

      const loc = router.topology.locate(42n);
      const ok = await router.select<{ one: bigint }>('SELECT 1 AS one FROM users WHERE uid = ? LIMIT 1', [42n]);
      expect(Array.isArray(ok)).toBe(true);
      await settledBorrowed(router);
      const health = router.health().find((h) => h.instance === loc.instance)!;
      expect(health.pool).toMatchObject({ borrowed: 0, pending: 0 });
    } finally {
      await router.close();
    }
  });

  it('a transaction statement past the timeout fails the transaction and leaves nothing written', async () => {
    // The server rolls the transaction back once it notices the closed connection (after SLEEP).
    const config = parseClusterConfig({ ...structuredClone(base), pool: { min: 0, max: 2, queryTimeoutMs: 400 } });
    const router = await createRouter(config);
    const uid = 9_100_000_000_000_042n;
    try {
      await router.query('DELETE FROM users WHERE uid = ?', [uid]);
      const failed = await router
        .forUid(uid)
        .transaction(async (tx) => {
          await tx.query('INSERT INTO users (uid, name, email, balance) VALUES (?, ?, ?, ?)', [uid, 'timeout', 't@example.com', '1.00']);
          await tx.query('SELECT SLEEP(5) AS s FROM users WHERE uid = ?', [uid]);
        })
        .then(
          () => null,
          (e: unknown) => e as Error,
        );
      expect(failed).not.toBeNull();
      expect(failed!.message).toMatch(/timeout/i);
      const left = await router.select('SELECT uid FROM users WHERE uid = ?', [uid]);
      expect(left).toEqual([]);
    } finally {
      await router.query('DELETE FROM users WHERE uid = ?', [uid]).catch(() => undefined);
      await router.close();
    }
  });
});
