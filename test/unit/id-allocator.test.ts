import { bundledClusterConfig, loadClusterConfig, parseClusterConfig } from '../../src/config/index.js';
import { RoutingError } from '../../src/errors/index.js';
import { IdAllocator, type LeaseBlock } from '../../src/router/id-allocator.js';
import { leaseSql } from '../../src/router/id-segments.js';

/** A shared counter like the `id_segments` row: each lease moves it up by the block's size. */
function counter(delayMs = 1) {
  const rows = new Map<string, bigint>();
  const leases: { name: string; size: number }[] = [];
  const lease: LeaseBlock = async (name, size) => {
    await new Promise((r) => setTimeout(r, delayMs));
    const end = (rows.get(name) ?? 1n) + BigInt(size);
    rows.set(name, end);
    leases.push({ name, size });
    return end;
  };
  return { lease, leases };
}

describe('global IDs (segment allocator)', () => {
  it('several processes sharing the counter get unique IDs, each increasing', async () => {
    const shared = counter();
    const procs = Array.from({ length: 4 }, () => new IdAllocator(shared.lease, { initialBlock: 7, maxBlock: 50 }));
    const got: bigint[][] = procs.map(() => []);
    await Promise.all(
      procs.map(async (p, i) => {
        for (let n = 0; n < 2000; n++) got[i]!.push(await p.next('orders'));
      }),
    );
    const all = got.flat();
    expect(new Set(all).size).toBe(all.length);
    for (const seq of got) for (let k = 1; k < seq.length; k++) expect(seq[k]! > seq[k - 1]!).toBe(true);
    // a process that starts later (a restart) continues above every block leased so far
    const restarted = new IdAllocator(shared.lease, { initialBlock: 7, maxBlock: 50 });
    const first = await restarted.next('orders');
    expect(first > all.reduce((a, b) => (a > b ? a : b))).toBe(true);
  });

  it('concurrent callers during a lease each get their own ID', async () => {
    const shared = counter(5);
    const p = new IdAllocator(shared.lease, { initialBlock: 10, maxBlock: 10 });
    const ids = await Promise.all(Array.from({ length: 95 }, () => p.next('x')));
    expect(new Set(ids).size).toBe(95);
    expect(ids.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 95 }, (_, i) => i + 1));
  });

  it('leases the next block ahead, so a steady caller does not wait at the block boundary; blocks used up fast grow to maxBlock', async () => {
    const shared = counter(0);
    const p = new IdAllocator(shared.lease, { initialBlock: 100, maxBlock: 800 });
    let waited = 0;
    for (let n = 0; n < 5000; n++) {
      let settled = false;
      const v = p.next('s').then((x) => ((settled = true), x));
      await Promise.resolve();
      if (!settled) waited++;
      await v;
      if (n % 50 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    expect(shared.leases.map((l) => l.size)).toContain(800);
    expect(Math.max(...shared.leases.map((l) => l.size))).toBe(800);
    // only the very first call waits for a lease (the others found a block ready)
    expect(waited).toBeLessThanOrEqual(3);
  });

  it('a failed lease is a typed, retriable error; the next call leases again', async () => {
    let fail = true;
    const shared = counter(0);
    const p = new IdAllocator(
      async (name, size) => {
        if (fail) throw new Error('server gone');
        return shared.lease(name, size);
      },
      { initialBlock: 5, maxBlock: 5 },
    );
    await expect(p.next('a')).rejects.toMatchObject({ code: 'ID_SEQUENCE', retriable: true });
    fail = false;
    expect(await p.next('a')).toBe(1n);
  });

  it.each(['', 'x'.repeat(65), "a'; DROP TABLE t; --", 'name with space', 'ü'])('refuses the sequence name %j', async (name) => {
    const p = new IdAllocator(counter().lease, { initialBlock: 5, maxBlock: 5 });
    await expect(p.next(name)).rejects.toBeInstanceOf(RoutingError);
  });

  it('the lease is one atomic statement with bound values, and reads the value it set', () => {
    const sql = leaseSql('shardline_meta');
    expect(sql.bump).toBe(
      'INSERT INTO `shardline_meta`.`id_segments` (name, next_id, leased_at) VALUES (?, LAST_INSERT_ID(1 + ?), NOW(6)) ON DUPLICATE KEY UPDATE next_id = LAST_INSERT_ID(next_id + ?), leased_at = NOW(6)',
    );
    expect(sql.read).toBe('SELECT LAST_INSERT_ID() AS v');
  });
});

describe('router.ids config', () => {
  const base = loadClusterConfig(bundledClusterConfig, {});
  it('defaults to blocks of 1,000 growing to 1,000,000', () => {
    expect(base.router.ids).toEqual({ initialBlock: 1000, maxBlock: 1_000_000 });
  });
  it.each([
    [{ instance: 'nope' }, /router\.ids\.instance.*no instance is named nope/],
    [{ initialBlock: 0 }, /router\.ids\.initialBlock/],
    [{ maxBlock: 1.5 }, /router\.ids\.maxBlock/],
    [{ blocks: 5 }, /router\.ids/],
  ])('refuses %j', (ids, message) => {
    expect(() => parseClusterConfig({ ...structuredClone(base), router: { ...base.router, ids } })).toThrow(message);
  });
});
