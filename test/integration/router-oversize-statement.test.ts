import { createRouter, MultiShardWriteError, QueryError, type Router } from '../../src/index.js';
import { parseClusterConfig } from '../../src/config/index.js';
import { testConfig } from '../support/cluster.js';
import { settledBorrowed } from '../support/pool-settle.js';

const base = testConfig();
let router: Router;

/** A UID of the range this file writes whose shard lives on an instance of `flavour`. */
function uidOn(flavour: 'mysql' | 'mariadb', skip = 0): bigint {
  const flavours = new Map(base.instances.map((i) => [i.name, i.flavour]));
  for (let uid = 9_400_000_000_000_000n; ; uid++) {
    if (flavours.get(router.topology.locate(uid).instance) === flavour && skip-- === 0) return uid;
  }
}

async function maxAllowedPacket(uid: bigint): Promise<number> {
  const [row] = await router.select<{ m: bigint }>('SELECT @@max_allowed_packet AS m FROM users WHERE uid = ? LIMIT 1', [uid]);
  if (row) return Number(row.m);
  const direct = await router.forUid(uid).transaction(async (tx) => tx.query('SELECT @@max_allowed_packet AS m'));
  return Number((direct as { m: bigint }[])[0]!.m);
}

const breakerOf = (instance: string) => router.health().find((h) => h.instance === instance)!.breaker;

beforeAll(async () => {
  router = await createRouter(
    parseClusterConfig({
      ...structuredClone(base),
      router: { ...(base.router ?? {}), shardMapCheckMs: 0 },
      pool: { min: 0, max: 2, breaker: { consecutiveFailures: 1, openMs: 60_000 } },
    }),
  );
});

afterAll(async () => {
  await router?.close();
});

// A statement bigger than the server's max_allowed_packet: the server answers ER_NET_PACKET_TOO_LARGE
// and then closes the connection. That is the caller's statement, not the instance failing: the
// error is QUERY_FAILED (retrying cannot help), the connection is not given to the next caller,
// and the instance's breaker stays closed.
describe.each(['mysql', 'mariadb'] as const)('a statement over max_allowed_packet on %s', (flavour) => {
  it('fails typed, and the next statement on the instance runs at once', async () => {
    const uid = uidOn(flavour);
    const { instance } = router.topology.locate(uid);
    const big = 'x'.repeat((await maxAllowedPacket(uid)) + 1024);

    for (const attempt of [1, 2]) {
      const failed = await router.query('INSERT INTO users (uid, name, email, balance) VALUES (?, ?, ?, ?)', [uid, big, 'e', '1.00']).then(
        () => null,
        (e: unknown) => e,
      );
      expect(failed).toBeInstanceOf(QueryError);
      expect(failed).toMatchObject({ code: 'QUERY_FAILED', retriable: false, message: expect.stringContaining('max_allowed_packet') });
      expect(String((failed as Error).message)).not.toContain('xxxxxxxx');
      const after = await router.select<{ n: bigint }>('SELECT COUNT(*) AS n FROM users WHERE uid = ?', [uid]);
      expect({ attempt, after }).toEqual({ attempt, after: [{ n: 0n }] });
    }
    expect(breakerOf(instance)).toBe('closed');
    await settledBorrowed(router);
  });

  it('in a multi-shard write, the oversized instance fails alone and its pool goes on', async () => {
    const uid = uidOn(flavour);
    const other = uidOn(flavour === 'mysql' ? 'mariadb' : 'mysql', 1);
    const { instance } = router.topology.locate(uid);
    const big = 'x'.repeat((await maxAllowedPacket(uid)) + 1024);
    try {
      const failed = await router
        .query('INSERT INTO users (uid, name, email, balance) VALUES (?, ?, ?, ?), (?, ?, ?, ?)', [
          uid,
          big,
          'e',
          '1.00',
          other,
          'ok',
          'e',
          '1.00',
        ])
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(failed).toBeInstanceOf(MultiShardWriteError);
      // the server refused the packet whole: nothing of it ran (rolled back, not unknown)
      expect(failed).toMatchObject({
        code: 'MULTI_SHARD_WRITE_FAILED',
        retriable: false,
        rolledBack: [instance],
        committed: [router.topology.locate(other).instance],
        unknown: [],
      });
      expect(breakerOf(instance)).toBe('closed');
      const theirs = await router.select<{ n: bigint }>('SELECT COUNT(*) AS n FROM users WHERE uid = ?', [other]);
      expect(theirs).toEqual([{ n: 1n }]);
      const mine = await router.select<{ n: bigint }>('SELECT COUNT(*) AS n FROM users WHERE uid = ?', [uid]);
      expect(mine).toEqual([{ n: 0n }]);
    } finally {
      await router.query('DELETE FROM users WHERE uid IN (?, ?)', [uid, other]);
    }
  });

  it('a stream whose statement is too large fails typed, and the instance serves the next stream', async () => {
    const uid = uidOn(flavour);
    const big = 'x'.repeat((await maxAllowedPacket(uid)) + 1024);
    const failed = await (async () => {
      for await (const row of router.stream('SELECT uid FROM users WHERE uid = ? AND name = ?', [uid, big])) expect(row).toBeDefined();
      return null;
    })().catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: 'QUERY_FAILED', retriable: false });
    const rows: unknown[] = [];
    for await (const row of router.stream('SELECT uid FROM users WHERE uid = ?', [uid])) rows.push(row);
    expect(rows).toEqual([]);
    expect(breakerOf(router.topology.locate(uid).instance)).toBe('closed');
  });
});
