import type mysql from 'mysql2/promise';
import { createRouter, type Router } from '../../src/index.js';
import { parseClusterConfig } from '../../src/config/index.js';
import { testConfig } from '../support/cluster.js';
import { connectionToShardOf } from '../support/instance-admin.js';
import { settledBorrowed } from '../support/pool-settle.js';

const base = testConfig();
const uids = [9_200_000_000_000_001n, 9_200_000_000_000_002n, 9_200_000_000_000_003n];

/** A router whose breakers open on the first failure and stay open for the test. */
function strictRouter(): Promise<Router> {
  return createRouter(
    parseClusterConfig({
      ...structuredClone(base),
      router: { ...(base.router ?? {}), shardMapCheckMs: 0 },
      pool: { min: 0, max: 2, breaker: { consecutiveFailures: 1, openMs: 60_000 } },
    }),
  );
}

/** Drains a stream; the error it ended with, or null (fails the test after `ms` instead of hanging). */
async function outcome(rows: AsyncIterable<unknown>, ms = 10_000): Promise<{ code?: string; retriable?: boolean } | null> {
  let timer: NodeJS.Timeout | undefined;
  const drained = (async () => {
    for await (const row of rows) expect(row).toBeDefined();
    return null;
  })().catch((err: unknown) => err as { code?: string });
  const hung = new Promise<{ code: string }>((resolve) => {
    timer = setTimeout(() => resolve({ code: `still streaming after ${ms} ms` }), ms);
  });
  try {
    return await Promise.race([drained, hung]);
  } finally {
    clearTimeout(timer);
  }
}

const breakerOf = (router: Router, instance: string) => router.health().find((h) => h.instance === instance)!.breaker;

beforeAll(async () => {
  const router = await createRouter(base);
  try {
    for (const uid of uids) {
      await router.query('REPLACE INTO users (uid, name, email, balance) VALUES (?, ?, ?, ?)', [uid, 'stream', 's@example.com', '1.00']);
    }
  } finally {
    await router.close();
  }
});

afterAll(async () => {
  const router = await createRouter(base);
  try {
    await router.query(`DELETE FROM users WHERE uid IN (${uids.map(() => '?').join(', ')})`, uids);
  } finally {
    await router.close();
  }
});

describe('router.stream when its connection fails', () => {
  it('a connection killed mid-result fails the stream with SHARD_UNAVAILABLE (it waited forever) and opens the breaker', async () => {
    const router = await strictRouter();
    const at = router.topology.locate(uids[0]!);
    const admin = await connectionToShardOf(router, uids[0]!);
    try {
      const sql = 'SELECT uid, SLEEP(3) AS s FROM users WHERE uid = ?';
      const done = outcome(router.stream(sql, [uids[0]!]));
      let ids: number[] = [];
      for (const deadline = Date.now() + 5000; ids.length === 0 && Date.now() < deadline;) {
        const [rows] = await admin.query<mysql.RowDataPacket[]>(
          "SELECT id FROM information_schema.processlist WHERE info LIKE 'SELECT uid, SLEEP(3)%'",
        );
        ids = rows.map((r) => Number(r['id']));
        if (ids.length === 0) await new Promise((r) => setTimeout(r, 20));
      }
      expect(ids).toHaveLength(1);
      await admin.query(`KILL ${ids[0]}`);
      const err = await done;
      expect(err).toMatchObject({ code: 'SHARD_UNAVAILABLE', retriable: true });
      expect(breakerOf(router, at.instance)).toBe('open');
      expect(await settledBorrowed(router)).toEqual(router.health().map(() => 0));
    } finally {
      await admin.end();
      await router.close();
    }
  });

  it('a server error and a stream left early are no failure of the instance', async () => {
    const router = await strictRouter();
    try {
      const at = router.topology.locate(uids[0]!);
      expect(await outcome(router.stream('SELECT no_such_column FROM users WHERE uid = ?', [uids[0]!]))).toMatchObject({
        code: 'QUERY_FAILED',
        retriable: false,
      });
      expect(breakerOf(router, at.instance)).toBe('closed');
      let seen = 0;
      for await (const row of router.stream('SELECT uid FROM users WHERE uid >= ? ORDER BY uid', [uids[0]!], { scatter: true })) {
        expect(row).toBeDefined();
        if (++seen === 1) break;
      }
      expect(seen).toBe(1);
      expect(router.health().map((h) => h.breaker)).toEqual(router.health().map(() => 'closed'));
      expect(await settledBorrowed(router)).toEqual(router.health().map(() => 0));
      // the instances still serve
      expect(await router.select('SELECT uid FROM users WHERE uid = ?', [uids[1]!])).toHaveLength(1);
    } finally {
      await router.close();
    }
  });

  it('a result the driver refuses (a column named __proto__) is QUERY_FAILED, not retriable, and no failure of the instance', async () => {
    const router = await strictRouter();
    try {
      const at = router.topology.locate(uids[0]!);
      const refused = { code: 'QUERY_FAILED', retriable: false, cause: { kind: 'client' } };
      const sql = 'SELECT uid AS __proto__ FROM users WHERE uid = ?';
      for (let i = 0; i < 3; i++) await expect(router.query(sql, [uids[0]!])).rejects.toMatchObject(refused);
      expect(await outcome(router.stream(sql, [uids[0]!]))).toMatchObject(refused);
      await expect(router.forUid(uids[0]!).transaction((tx) => tx.query(sql, [uids[0]!]))).rejects.toMatchObject(refused);
      expect(breakerOf(router, at.instance)).toBe('closed');
      expect(await settledBorrowed(router)).toEqual(router.health().map(() => 0));
      expect(await router.select('SELECT uid FROM users WHERE uid = ?', [uids[0]!])).toHaveLength(1);
    } finally {
      await router.close();
    }
  });
});
