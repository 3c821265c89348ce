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
});
