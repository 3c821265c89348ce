import { Socket } from 'node:net';
import { poolSchema } from '../../src/config/index.js';
import type { DbConnection } from '../../src/net/index.js';
import { createJsSocketLayer } from '../../src/net/index.js';
import { InstancePool } from '../../src/pool/index.js';

const endpoint = { name: 'fake-0', host: '127.0.0.1', port: 1, user: 'u', password: 'p' };

function fakeFactory() {
  let next = 1;
  return async (): Promise<DbConnection> => {
    const conn = {
      instance: 'fake-0',
      id: next++,
      socket: null,
      waitTimeoutMs: 28_800_000,
      createdAt: Date.now(),
      broken: false,
      lastUsedAt: Date.now(),
      query: async () => ({ rows: [], fields: [] }) as never,
      ping: async () => undefined,
      close: async () => undefined,
      destroy() {
        (conn as { broken: boolean }).broken = true;
      },
    };
    return conn;
  };
}

/** The pool's borrow waiters (what the breaker fails when it opens): must not outlive a borrow. */
function waiters(pool: InstancePool): number {
  return (pool as unknown as { waiting: { length: number } }).waiting.length;
}

describe('InstancePool borrows', () => {
  it('keeps nothing per borrow once it settled (it kept a closure and a pending promise per borrow)', async () => {
    const pool = new InstancePool(endpoint, poolSchema.parse({ max: 4 }), fakeFactory(), '0-1', createJsSocketLayer('test'));
    try {
      for (let round = 0; round < 500; round++) {
        await Promise.all(Array.from({ length: 8 }, () => pool.use(async () => 1)));
      }
      expect(waiters(pool)).toBe(0);
      expect(pool.stats()).toMatchObject({ borrowed: 0, pending: 0 });
      await expect(pool.use(async () => 'still works')).resolves.toBe('still works');
    } finally {
      await pool.close();
    }
  });

  it('still fails a waiting borrow at once when the breaker opens, and takes the late connection back', async () => {
    const config = poolSchema.parse({ max: 1, acquireTimeoutMs: 10_000, breaker: { consecutiveFailures: 1 } });
    const pool = new InstancePool(endpoint, config, fakeFactory(), '0-1', createJsSocketLayer('test'));
    let held: DbConnection | null = await pool.acquire();
    try {
      const waiting = pool.acquire();
      await new Promise((r) => setImmediate(r));
      const t0 = Date.now();
      pool.breaker.failure();
      await expect(waiting).rejects.toMatchObject({ code: 'SHARD_UNAVAILABLE', retriable: true });
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(waiters(pool)).toBe(0);
      await pool.release(held);
      held = null;
      // The request that lost the race got the connection and handed it straight back.
      for (let i = 0; i < 20 && pool.stats().borrowed > 0; i++) await new Promise((r) => setImmediate(r));
      expect(pool.stats()).toMatchObject({ borrowed: 0, pending: 0 });
    } finally {
      if (held) await pool.release(held);
      await pool.close();
    }
  });

  it('settle feeds the breaker as use does: a failure only when the work failed and its connection broke', async () => {
    const config = poolSchema.parse({ max: 2, breaker: { consecutiveFailures: 2 } });
    const pool = new InstancePool(endpoint, config, fakeFactory(), '0-1', createJsSocketLayer('test'));
    const settle = async (failed: boolean, broke: boolean) => {
      const conn = await pool.acquire();
      if (broke) conn.destroy();
      await pool.settle(conn, failed);
    };
    try {
      for (let i = 0; i < 3; i++) await settle(false, true); // streams left early: closed on purpose
      expect(pool.breaker.state).toBe('closed');
      await settle(true, true); // the connection lost under the work
      await settle(true, false); // a server error: the instance answered, the count starts again
      await settle(true, true);
      expect(pool.breaker.state).toBe('closed');
      await settle(true, true);
      expect(pool.breaker.state).toBe('open');
      await expect(pool.acquire()).rejects.toMatchObject({ code: 'SHARD_UNAVAILABLE' });
      expect(pool.stats()).toMatchObject({ borrowed: 0, pending: 0 });
    } finally {
      await pool.close();
    }
  });

  it('maps generic-pool failures to POOL_TIMEOUT and POOL_EXHAUSTED and forgets those waiters too', async () => {
    const config = poolSchema.parse({ max: 1, acquireTimeoutMs: 50, maxWaitingClients: 1 });
    const pool = new InstancePool(endpoint, config, fakeFactory(), '0-1', createJsSocketLayer('test'));
    const held = await pool.acquire();
    try {
      const results = await Promise.allSettled([pool.acquire(), pool.acquire()]);
      expect(results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'))).toEqual([
        'POOL_TIMEOUT',
        'POOL_EXHAUSTED',
      ]);
      expect(waiters(pool)).toBe(0);
    } finally {
      await pool.release(held);
      await pool.close();
    }
  });

  it('maxWaitingClients counts only borrows no connection is coming for: 0 opens up to max, then fails fast', async () => {
    const config = poolSchema.parse({ max: 3, acquireTimeoutMs: 5000, maxWaitingClients: 0 });
    const pool = new InstancePool(endpoint, config, fakeFactory(), '0-1', createJsSocketLayer('test'));
    try {
      const first = await pool.acquire();
      await pool.release(first);
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => pool.acquire()));
      const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'));
      expect(codes).toEqual(['ok', 'ok', 'ok', 'POOL_EXHAUSTED', 'POOL_EXHAUSTED']);
      const held = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      expect(new Set(held.map((c) => c.id)).size).toBe(3);
      expect(inner(pool).pending).toBe(0);
      for (const c of held) await pool.release(c);
      await expect(pool.use(async () => 'served')).resolves.toBe('served');
      expect(pool.stats()).toMatchObject({ borrowed: 0, pending: 0 });
    } finally {
      await pool.close();
    }
  });

  it('maxWaitingClients 2 on max 2: two borrows open connections, two wait, the fifth fails fast', async () => {
    const config = poolSchema.parse({ max: 2, acquireTimeoutMs: 5000, maxWaitingClients: 2 });
    const pool = new InstancePool(endpoint, config, fakeFactory(), '0-1', createJsSocketLayer('test'));
    try {
      const borrows = Array.from({ length: 5 }, () => pool.acquire());
      await expect(borrows[4]).rejects.toMatchObject({ code: 'POOL_EXHAUSTED' });
      const [a, b] = await Promise.all([borrows[0], borrows[1]]);
      await pool.release(a!);
      await pool.release(b!);
      const [c, d] = await Promise.all([borrows[2], borrows[3]]);
      expect([c!.id, d!.id].sort()).toEqual([a!.id, b!.id].sort());
      await pool.release(c!);
      await pool.release(d!);
    } finally {
      await pool.close();
    }
  });
});

/** generic-pool under the InstancePool (its own accounting, which the fast path must keep true). */
function inner(pool: InstancePool): { pending: number; borrowed: number; available: number; size: number } {
  return (pool as unknown as { pool: { pending: number; borrowed: number; available: number; size: number } }).pool;
}

describe('InstancePool hand-off', () => {
  it('serves 32 callers on 4 connections in arrival order without queueing anything in generic-pool', async () => {
    const pool = new InstancePool(endpoint, poolSchema.parse({ max: 4 }), fakeFactory(), '0-1', createJsSocketLayer('test'));
    try {
      let maxInner = 0;
      let maxSize = 0;
      const order: number[] = [];
      const held = await Promise.all(Array.from({ length: 4 }, () => pool.acquire()));
      const queued = Array.from({ length: 28 }, (_, i) =>
        pool.acquire().then(async (conn) => {
          order.push(i);
          await new Promise((r) => setImmediate(r));
          await pool.release(conn);
        }),
      );
      expect(pool.stats()).toMatchObject({ borrowed: 4, pending: 28 });
      for (const c of held) await pool.release(c);
      await Promise.all(queued);
      expect(order).toEqual(Array.from({ length: 28 }, (_, i) => i));
      for (let round = 0; round < 300; round++) {
        await Promise.all(
          Array.from({ length: 32 }, () =>
            pool.use(async () => {
              maxInner = Math.max(maxInner, inner(pool).pending);
              maxSize = Math.max(maxSize, inner(pool).size);
              await new Promise((r) => setImmediate(r));
            }),
          ),
        );
      }
      expect(maxInner).toBe(0);
      expect(maxSize).toBe(4);
      expect(pool.stats()).toMatchObject({ size: 4, borrowed: 0, available: 4, pending: 0 });
      expect(waiters(pool)).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it('gives connections idle for a second back to generic-pool, whose counts then match', async () => {
    const pool = new InstancePool(endpoint, poolSchema.parse({ max: 4 }), fakeFactory(), '0-1', createJsSocketLayer('test'));
    try {
      await Promise.all(Array.from({ length: 4 }, () => pool.use(async () => new Promise((r) => setImmediate(r)))));
      expect(inner(pool).borrowed).toBe(4);
      expect(pool.stats()).toMatchObject({ borrowed: 0, available: 4 });
      pool.reap();
      expect(inner(pool).borrowed).toBe(4);
      await new Promise((r) => setTimeout(r, 1100));
      pool.reap();
      expect(inner(pool)).toMatchObject({ borrowed: 0, available: 4 });
      expect(pool.stats()).toMatchObject({ borrowed: 0, available: 4 });
      await expect(pool.use(async () => 'from generic-pool again')).resolves.toBe('from generic-pool again');
    } finally {
      await pool.close();
    }
  });

  it('replaces a broken connection for the caller waiting on it, and times each waiter out on its own deadline', async () => {
    const pool = new InstancePool(
      endpoint,
      poolSchema.parse({ max: 1, acquireTimeoutMs: 300 }),
      fakeFactory(),
      '0-1',
      createJsSocketLayer('test'),
    );
    try {
      const first = await pool.acquire();
      const waiting = pool.acquire();
      first.destroy();
      await pool.release(first);
      const second = await waiting;
      expect(second.id).not.toBe(first.id);
      const t0 = Date.now();
      const a = pool.acquire().then(
        () => ['acquired', Date.now() - t0] as const,
        (e: { code: string }) => [e.code, Date.now() - t0] as const,
      );
      await new Promise((r) => setTimeout(r, 100));
      const b = pool.acquire().then(
        () => ['acquired', Date.now() - t0] as const,
        (e: { code: string }) => [e.code, Date.now() - t0] as const,
      );
      const [ra, rb] = await Promise.all([a, b]);
      expect(ra[0]).toBe('POOL_TIMEOUT');
      expect(rb[0]).toBe('POOL_TIMEOUT');
      expect(ra[1]).toBeGreaterThanOrEqual(290);
      expect(rb[1]).toBeGreaterThanOrEqual(390);
      expect(rb[1] - ra[1]).toBeGreaterThanOrEqual(80);
      await pool.release(second);
      expect(pool.stats()).toMatchObject({ size: 1, borrowed: 0, pending: 0 });
    } finally {
      await pool.close();
    }
  });

  it('refuses a second release of an idle connection, so two callers never share it', async () => {
    const pool = new InstancePool(endpoint, poolSchema.parse({ max: 2 }), fakeFactory(), '0-1', createJsSocketLayer('test'));
    try {
      const conn = await pool.acquire();
      await pool.release(conn);
      await expect(pool.release(conn)).rejects.toMatchObject({ code: 'USAGE' });
      const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
      expect(a.id).not.toBe(b.id);
      await pool.release(a);
      await pool.release(b);
    } finally {
      await pool.close();
    }
  });

  it('close() lets a waiting borrow have the connection released meanwhile, then refuses new borrows', async () => {
    const pool = new InstancePool(endpoint, poolSchema.parse({ max: 1 }), fakeFactory(), '0-1', createJsSocketLayer('test'));
    const held = await pool.acquire();
    const waiting = pool.acquire();
    const closed = pool.close();
    await expect(pool.acquire()).rejects.toMatchObject({ code: 'SHARD_UNAVAILABLE' });
    await pool.release(held);
    const conn = await waiting;
    await pool.release(conn);
    await closed;
    expect(pool.stats()).toMatchObject({ size: 0, borrowed: 0, pending: 0 });
  });
});

describe('InstancePool idle watch', () => {
  it('watches a connection only once it has been idle for validateAfterIdleMs, never at each release', async () => {
    const added: number[] = [];
    const base = createJsSocketLayer('test');
    const layer = {
      ...base,
      createIdleWatch: () => ({
        add: (_socket: unknown, token: number) => void added.push(token),
        remove: () => undefined,
        checkout: () => true,
        reapDead: () => [],
        size: 0,
        close: () => undefined,
      }),
    };
    const factory = fakeFactory();
    const withSocket = async () => ({ ...(await factory()), socket: new Socket() }) as unknown as DbConnection;
    const pool = new InstancePool(endpoint, poolSchema.parse({ max: 4, validateAfterIdleMs: 100 }), withSocket, '0-1', layer);
    try {
      for (let round = 0; round < 200; round++) await Promise.all(Array.from({ length: 4 }, () => pool.use(async () => 1)));
      pool.reap();
      expect(added).toEqual([]);
      await new Promise((r) => setTimeout(r, 150));
      pool.reap();
      expect(added.length).toBe(pool.stats().available);
      expect(added.length).toBeGreaterThan(0);
    } finally {
      await pool.close();
    }
  });
});
