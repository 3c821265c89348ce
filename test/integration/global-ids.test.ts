import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { packageRoot } from '../../src/config/index.js';
import { createRouter } from '../../src/index.js';
import { testConfig } from '../support/cluster.js';

const run = promisify(execFile);
const config = testConfig();
const child = path.join(packageRoot, 'test/support/next-id-child.mjs');
const dist = path.join(packageRoot, 'dist');

/** One process's IDs (each of its callers' increasing: the child exits 3 otherwise). */
async function idsOf(name: string, count: number, concurrency: number): Promise<bigint[]> {
  const { stdout } = await run(process.execPath, [child, dist, name, String(count), String(concurrency)], {
    maxBuffer: 64 << 20,
    env: process.env,
  });
  return stdout.trim().split('\n').map(BigInt);
}

/**
 * Global IDs against the real metadata table: 8 processes at once, each restarted once (a new
 * process continues the same sequence), 100,000 IDs per worker in all — every ID unique, each
 * process's increasing, and a restarted worker's IDs above everything its first process had.
 */
describe('router.nextId across processes and restarts', () => {
  const name = `test_ids_${process.pid}_${Date.now().toString(36)}`;

  afterAll(async () => {
    const inst = config.instances[0]!;
    const s = await mysql.createConnection({ host: inst.host, port: inst.port, user: inst.user, password: inst.password });
    await s.query(`DELETE FROM ${config.sharding.naming.metaDatabase}.id_segments WHERE name = ?`, [name]);
    await s.end();
  });

  it('8 processes x 100,000 IDs, each restarted half-way: all unique, each process increasing', async () => {
    const workers = await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        const first = await idsOf(name, 50_000, 1 + (w % 4));
        const second = await idsOf(name, 50_000, 1 + (w % 4));
        return { first, second };
      }),
    );
    const all = new Set<bigint>();
    for (const { first, second } of workers) {
      expect(first).toHaveLength(50_000);
      expect(second).toHaveLength(50_000);
      const max = (xs: bigint[]) => xs.reduce((a, b) => (a > b ? a : b));
      const min = (xs: bigint[]) => xs.reduce((a, b) => (a < b ? a : b));
      expect(min(second) > max(first)).toBe(true);
      for (const id of [...first, ...second]) all.add(id);
    }
    expect(all.size).toBe(800_000);
    for (const id of all) expect(id > 0n).toBe(true);
  }, 300_000);

  it('a router in this process takes IDs of the same sequence above what is leased, and refuses a bad name', async () => {
    const router = await createRouter(config);
    try {
      const inst = config.instances[0]!;
      const s = await mysql.createConnection({ host: inst.host, port: inst.port, user: inst.user, password: inst.password });
      const [[row]] = (await s.query(`SELECT next_id FROM ${config.sharding.naming.metaDatabase}.id_segments WHERE name = ?`, [
        name,
      ])) as unknown as [{ next_id: string | number }[]];
      await s.end();
      const id = await router.nextId(name);
      expect(id >= BigInt(String(row!.next_id))).toBe(true);
      await expect(router.nextId("x'; DROP TABLE t; --")).rejects.toMatchObject({ code: 'ID_SEQUENCE' });
    } finally {
      await router.close();
    }
  });

  it("IDs that embed a user's shard: a table keyed by them (shardBy: embedded) puts each row on that user's shard without a lookup", async () => {
    // orders keyed by order_id with the shard embedded; the hashed router (orders by uid) is the oracle of where a user's rows live
    const embedded = structuredClone(config);
    embedded.sharding.tables['orders'] = { shardKey: 'order_id', shardBy: 'embedded' };
    const byOrder = await createRouter(embedded);
    const byUser = await createRouter(config);
    const seq = `${name}_orders`;
    const uids = Array.from({ length: 200 }, (_, i) => 8_800_000_000n + BigInt(process.pid % 1000) * 1_000_000n + BigInt(i * 7919));
    try {
      const placed: { uid: bigint; orderId: bigint }[] = [];
      for (const uid of uids) {
        const orderId = await byOrder.nextId(seq, { shardOf: uid });
        expect(Number(orderId % BigInt(byOrder.topology.shardCount))).toBe(byUser.topology.shardOf(uid));
        placed.push({ uid, orderId });
      }
      expect(new Set(placed.map((p) => p.orderId)).size).toBe(placed.length);
      // one multi-row INSERT routed by order_id alone
      await byOrder.query(
        `INSERT INTO orders (uid, order_id, amount, status) VALUES ${placed.map(() => "(?, ?, 1.50, 'new')").join(', ')}`,
        placed.flatMap((p) => [p.uid, p.orderId]),
      );
      for (const p of placed.slice(0, 50)) {
        // the hashed router reads the row on the user's shard
        const rows = await byUser.select<{ order_id: bigint }>('SELECT order_id FROM orders WHERE uid = ? AND order_id = ?', [
          p.uid,
          p.orderId,
        ]);
        expect(rows.map((r) => BigInt(r.order_id))).toEqual([p.orderId]);
        // the embedded router finds it by order_id alone, on one shard: the user's
        const explained = byOrder.explain('SELECT uid FROM orders WHERE order_id = ?', [p.orderId]);
        expect(explained.shards).toEqual([byUser.topology.shardOf(p.uid)]);
        const found = await byOrder.select<{ uid: bigint }>('SELECT uid FROM orders WHERE order_id = ?', [p.orderId]);
        expect(found.map((r) => BigInt(r.uid))).toEqual([p.uid]);
      }
      await expect(byOrder.nextId(seq, { shard: byOrder.topology.shardCount })).rejects.toMatchObject({ code: 'SQL_UNSUPPORTED' });
      await expect(byOrder.nextId(seq, { shardOf: -1 })).rejects.toMatchObject({ code: 'INVALID_UID' });
    } finally {
      await byUser.query(`DELETE FROM orders WHERE uid IN (${uids.map(() => '?').join(', ')})`, uids);
      await byOrder.close();
      await byUser.close();
      const inst = config.instances[0]!;
      const s = await mysql.createConnection({ host: inst.host, port: inst.port, user: inst.user, password: inst.password });
      await s.query(`DELETE FROM ${config.sharding.naming.metaDatabase}.id_segments WHERE name = ?`, [`${seq}#`]);
      await s.end();
    }
  });
});
