import { createRouter, ShardUnavailableError, type Router } from '../../src/index.js';
import { parseClusterConfig } from '../../src/config/index.js';
import { testConfig } from '../support/cluster.js';
import { settledBorrowed } from '../support/pool-settle.js';

const base = testConfig();
const uid = 9_300_000_000_000_077n;
const orderIds = [1n, 2n, 3n, 4n];
let router: Router;

// pool.queryTimeoutMs bounds how long router.stream waits for the server's next row; the time the
// caller spends between rows does not count (a stream is read at the caller's pace).
beforeAll(async () => {
  router = await createRouter(parseClusterConfig({ ...structuredClone(base), pool: { min: 0, max: 2, queryTimeoutMs: 400 } }));
  await router.query('DELETE FROM orders WHERE uid = ?', [uid]);
  for (const id of orderIds) {
    await router.query("INSERT INTO orders (uid, order_id, amount, status) VALUES (?, ?, '1.00', 'new')", [uid, id]);
  }
});

afterAll(async () => {
  await router?.query('DELETE FROM orders WHERE uid = ?', [uid]).catch(() => undefined);
  await router?.close();
});

async function pause(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

describe('router.stream and pool.queryTimeoutMs', () => {
  it('fails with a typed, retriable timeout when the server sends no row for longer than the timeout', async () => {
    const seen: bigint[] = [];
    const t0 = performance.now();
    const failed = await (async () => {
      // the scan is in key order: order 1 comes at once, order 3 sleeps 5 s before it is sent
      const sql = 'SELECT order_id, IF(order_id = 3, SLEEP(5), 0) AS s FROM orders WHERE uid = ? ORDER BY order_id';
      for await (const row of router.stream<{ order_id: bigint }>(sql, [uid])) seen.push(row.order_id);
      return null;
    })().catch((err: unknown) => err);
    const ms = performance.now() - t0;
    expect(failed).toBeInstanceOf(ShardUnavailableError);
    expect(failed).toMatchObject({ code: 'SHARD_UNAVAILABLE', retriable: true, message: expect.stringMatching(/timeout/i) });
    // the server may hold the rows before order 3 in its network buffer while it sleeps
    expect([[], [1n], [1n, 2n]]).toContainEqual(seen);
    expect(ms).toBeGreaterThanOrEqual(390);
    expect(ms).toBeLessThan(2500);

    await settledBorrowed(router);
    const loc = router.topology.locate(uid);
    expect(router.health().find((h) => h.instance === loc.instance)!.pool).toMatchObject({ borrowed: 0, pending: 0 });
    const again = await router.select<{ n: bigint }>('SELECT COUNT(*) AS n FROM orders WHERE uid = ?', [uid]);
    expect(again).toEqual([{ n: 4n }]);
  });

  it('a caller slower than the timeout between rows reads every row', async () => {
    const seen: bigint[] = [];
    for await (const row of router.stream<{ order_id: bigint }>('SELECT order_id FROM orders WHERE uid = ? ORDER BY order_id', [uid])) {
      seen.push(row.order_id);
      await pause(600);
    }
    expect(seen).toEqual(orderIds);
  });

  it('a scatter stream fails the same way when one shard is silent, and the others are not held', async () => {
    const sql = 'SELECT uid, IF(uid = ?, SLEEP(5), 0) AS s FROM orders WHERE uid IN (?, ?)';
    const other = 9_300_000_000_000_078n;
    const t0 = performance.now();
    const failed = await (async () => {
      for await (const row of router.stream(sql, [uid, uid, other])) expect(row).toBeDefined();
      return null;
    })().catch((err: unknown) => err);
    expect(failed).toMatchObject({ code: 'SHARD_UNAVAILABLE', message: expect.stringMatching(/timeout/i) });
    expect(performance.now() - t0).toBeLessThan(2500);
    await settledBorrowed(router);
    for (const h of router.health()) expect(h.pool).toMatchObject({ borrowed: 0, pending: 0 });
  });
});
