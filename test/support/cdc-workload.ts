import type { Router } from '../../src/index.js';
import type { Topology } from '../../src/shard/index.js';
import { prng } from './prng.js';

export { prng };

/** `perShard` UIDs for every one of the topology's shards, counting up from `base`. */
export function uidsCoveringShards(topology: Topology, base: bigint, perShard: number): bigint[] {
  const count = new Map<number, number>();
  const out: bigint[] = [];
  for (let u = base; out.length < topology.shardCount * perShard; u++) {
    const s = topology.shardOf(u);
    const n = count.get(s) ?? 0;
    if (n < perShard) {
      count.set(s, n + 1);
      out.push(u);
    }
  }
  return out;
}

async function pooled<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** What a workload did, for the assertions. */
export interface WorkloadResult {
  inserted: number;
  updated: number;
  deleted: number;
  reinserted: number;
}

/**
 * A random workload through the router on users and orders: inserts (multi-row, split per
 * shard by the router), updates (some in single-shard transactions touching both tables),
 * deletes and re-inserts of deleted keys.
 */
export async function randomWorkload(router: Router, uids: readonly bigint[], seed: number, concurrency = 8): Promise<WorkloadResult> {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[], n: number) => [...xs].sort(() => rnd() - 0.5).slice(0, n);
  const money = () => `${Math.floor(rnd() * 100000)}.${String(Math.floor(rnd() * 100)).padStart(2, '0')}`;
  const batches: bigint[][] = [];
  for (let i = 0; i < uids.length; i += 64) batches.push(uids.slice(i, i + 64));
  await pooled(batches, concurrency, async (b) => {
    await router.query(
      `INSERT INTO users (uid, name, email, balance) VALUES ${b.map(() => '(?, ?, ?, ?)').join(', ')}`,
      b.flatMap((u) => [u, `user ${u} ✓`, rnd() < 0.2 ? null : `${u}@example.com`, money()]),
    );
    await router.query(
      `INSERT INTO orders (uid, order_id, amount, status, created_at) VALUES ${b.map(() => "(?, 1, ?, 'new', NOW(6))").join(', ')}`,
      b.flatMap((u) => [u, money()]),
    );
  });
  const updates = pick(uids, Math.floor(uids.length / 4));
  await pooled(updates, concurrency, async (u) => {
    if (rnd() < 0.5) {
      await router.query('UPDATE users SET balance = ?, name = ?, updated_at = NOW(6) WHERE uid = ?', [money(), `renamed ${u}`, u]);
    } else {
      await router.forUid(u).transaction(async (tx) => {
        await tx.query('UPDATE users SET balance = balance + 1, updated_at = NOW(6) WHERE uid = ?', [u]);
        await tx.query("UPDATE orders SET status = 'paid', amount = amount + 1 WHERE uid = ? AND order_id = 1", [u]);
        await tx.query("INSERT INTO orders (uid, order_id, amount, status, created_at) VALUES (?, 2, ?, 'new', NOW(6))", [u, money()]);
      });
    }
  });
  const deletes = pick(uids, Math.floor(uids.length / 10));
  await pooled(deletes, concurrency, async (u) => {
    await router.forUid(u).transaction(async (tx) => {
      await tx.query('DELETE FROM orders WHERE uid = ?', [u]);
      await tx.query('DELETE FROM users WHERE uid = ?', [u]);
    });
  });
  const reinserts = pick(deletes, Math.floor(deletes.length / 5));
  await pooled(reinserts, concurrency, async (u) => {
    await router.query('INSERT INTO users (uid, name, email, balance) VALUES (?, ?, NULL, ?)', [u, `back ${u}`, money()]);
  });
  return { inserted: uids.length, updated: updates.length, deleted: deletes.length, reinserted: reinserts.length };
}
