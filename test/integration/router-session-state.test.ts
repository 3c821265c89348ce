import type mysql from 'mysql2/promise';
import { parseClusterConfig } from '../../src/config/index.js';
import { createRouter, RoutingError, type Router } from '../../src/index.js';
import { testConfig } from '../support/cluster.js';
import { connectionToShardOf } from '../support/instance-admin.js';

const base = testConfig();
let router: Router;

/** A UID of this file's range whose shard lives on an instance of `flavour`. */
function uidOn(flavour: 'mysql' | 'mariadb'): bigint {
  const flavours = new Map(base.instances.map((i) => [i.name, i.flavour]));
  for (let uid = 9_500_000_000_000_000n; ; uid++) if (flavours.get(router.topology.locate(uid).instance) === flavour) return uid;
}

/** Whether the server of `uid`'s shard holds no named lock `name`, asked on a connection of its own. */
async function lockIsFree(uid: bigint, name: string): Promise<boolean> {
  const admin = await connectionToShardOf(router, uid);
  try {
    const [rows] = await admin.query<mysql.RowDataPacket[]>('SELECT IS_FREE_LOCK(?) AS free', [name]);
    return Number(rows[0]!['free']) === 1;
  } finally {
    await admin.end();
  }
}

/** Whether the lock is free within `ms` (the server ends a closed connection's session a moment after the close). */
async function lockFreedWithin(uid: bigint, name: string, ms = 5000): Promise<boolean> {
  for (const until = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 50))) {
    if (await lockIsFree(uid, name)) return true;
    if (Date.now() > until) return false;
  }
}

beforeAll(async () => {
  // One connection per instance: a connection given back to the pool is the next borrower's.
  router = await createRouter(parseClusterConfig({ ...structuredClone(base), pool: { min: 0, max: 1 } }));
});

afterAll(async () => {
  await router?.close();
});

describe.each(['mysql', 'mariadb'] as const)('connection state through the router on %s', (flavour) => {
  it('refuses a named lock outside a transaction, and takes none', async () => {
    const uid = uidOn(flavour);
    const lock = `shardline-test-${flavour}-outside`;
    const refused = await router.query('SELECT GET_LOCK(?, 0) AS got FROM users WHERE uid = ?', [lock, uid]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(RoutingError);
    expect(refused).toMatchObject({ code: 'SQL_UNSUPPORTED', message: expect.stringContaining('GET_LOCK()') });
    expect(await lockIsFree(uid, lock)).toBe(true);
  });

  it('ends a named lock taken in a transaction with the transaction: the next borrower does not hold it', async () => {
    const uid = uidOn(flavour);
    const lock = `shardline-test-${flavour}-tx`;
    const got = await router.forUid(uid).transaction(async (tx) => {
      const rows = (await tx.query('SELECT GET_LOCK(?, 0) AS got', [lock])) as Array<{ got: unknown }>;
      expect(await lockIsFree(uid, lock)).toBe(false);
      return Number(rows[0]!.got);
    });
    expect(got).toBe(1);
    expect(await lockFreedWithin(uid, lock)).toBe(true);
    // The instance still serves (the connection was replaced, not the pool broken).
    expect(await router.select('SELECT name FROM users WHERE uid = ?', [uid])).toEqual([]);
  });

  it('does not hand a user variable set in a transaction to the next transaction', async () => {
    const uid = uidOn(flavour);
    const session = router.forUid(uid);
    const seen = await session.transaction(async (tx) => {
      await tx.query('SELECT @secret := ? AS v', ['set in the first transaction']);
      return (await tx.query('SELECT @secret AS v')) as Array<{ v: unknown }>;
    });
    expect(String(seen[0]!.v)).toBe('set in the first transaction');
    const next = (await session.transaction((tx) => tx.query('SELECT @secret AS v'))) as Array<{ v: unknown }>;
    expect(next).toEqual([{ v: null }]);
  });

  it('refuses LAST_INSERT_ID() and FOUND_ROWS() outside a transaction, and reads them inside one', async () => {
    const uid = uidOn(flavour);
    for (const sql of ['SELECT LAST_INSERT_ID() AS id', 'SELECT FOUND_ROWS() AS n']) {
      await expect(router.query(sql)).rejects.toMatchObject({ code: 'SQL_UNSUPPORTED', message: expect.stringContaining('transaction') });
    }
    const found = await router.forUid(uid).transaction(async (tx) => {
      await tx.query('SELECT SQL_CALC_FOUND_ROWS name FROM users WHERE uid = ? LIMIT 1', [uid]);
      return (await tx.query('SELECT FOUND_ROWS() AS n')) as Array<{ n: unknown }>;
    });
    expect(Number(found[0]!.n)).toBe(0);
  });
});
