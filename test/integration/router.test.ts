import { openMysqlSession, type MysqlSession } from '../../src/net/index.js';
import { createRouter, RoutingError, type Router, type WriteResult } from '../../src/index.js';
import { addDecimal } from '../../src/executor/index.js';
import { shardline, testConfig } from '../support/cluster.js';
import { settledBorrowed } from '../support/pool-settle.js';

const config = testConfig();
const BASE = 7_000_000_000n;
const N = 10_000;
const uidOf = (i: number) => BASE + BigInt(i);
const nameOf = (i: number) => `user-${i}`;
const balanceOf = (i: number) => `${(i * 7919) % 100000}.${String(i % 100).padStart(2, '0')}`;

async function pooled<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

let router: Router;

beforeAll(async () => {
  shardline('migrate');
  router = await createRouter(config);
  await router.query('DELETE FROM orders WHERE uid BETWEEN ? AND ?', [BASE, BASE + BigInt(N)], { scatter: true });
  await router.query('DELETE FROM users WHERE uid BETWEEN ? AND ?', [BASE, BASE + BigInt(N)], { scatter: true });
});

afterAll(async () => {
  await router?.close();
});

describe('router on the real cluster (1024 shards over MySQL 8.0, 9.7 and MariaDB)', () => {
  it('inserts 10k users and their orders through the transparent API', async () => {
    const batches = Array.from({ length: N / 200 }, (_, b) => Array.from({ length: 200 }, (_, k) => b * 200 + k));
    let users = 0;
    let orders = 0;
    await pooled(batches, 8, async (batch) => {
      const u = (await router.query(
        `INSERT INTO users (uid, name, email, balance) VALUES ${batch.map(() => '(?, ?, ?, ?)').join(', ')}`,
        batch.flatMap((i) => [uidOf(i), nameOf(i), `${i}@example.com`, balanceOf(i)]),
      )) as WriteResult;
      users += u.affectedRows;
      const o = (await router.query(
        `INSERT INTO orders (uid, order_id, amount, status, created_at) VALUES ${batch.map(() => "(?, ?, ?, 'new', NOW(6)), (?, ?, ?, 'paid', NOW(6))").join(', ')}`,
        batch.flatMap((i) => [uidOf(i), 1, '10.00', uidOf(i), 2, balanceOf(i)]),
      )) as WriteResult;
      orders += o.affectedRows;
    });
    expect(users).toBe(N);
    expect(orders).toBe(2 * N);
  });

  it('reads every user back by point SELECT', async () => {
    const wrong: number[] = [];
    await pooled(
      Array.from({ length: N }, (_, i) => i),
      32,
      async (i) => {
        const rows = await router.select<{ uid: bigint; name: string; balance: string }>(
          'SELECT uid, name, balance FROM users WHERE uid = ?',
          [uidOf(i)],
        );
        if (rows.length !== 1 || rows[0]!.uid !== uidOf(i) || rows[0]!.name !== nameOf(i) || rows[0]!.balance !== balanceOf(i))
          wrong.push(i);
      },
    );
    expect(wrong).toEqual([]);
  });

  it('stores every row in the physical table its shard maps to, and nowhere else', async () => {
    const found = new Map<bigint, string[]>();
    await Promise.all(
      config.instances.map(async (inst) => {
        const session: MysqlSession = await openMysqlSession({
          host: inst.host,
          port: inst.port,
          tls: inst.tls,
          serverPublicKey: inst.serverPublicKey,
          user: inst.user,
          password: inst.password,
        });
        try {
          for (const shard of router.topology.map.shardsOf(inst.name)) {
            const table = `${router.topology.names.database(shard)}.${router.topology.names.table('users', shard)}`;
            const rows = await session.query<{ uid: string }>(`SELECT uid FROM ${table} WHERE uid BETWEEN ? AND ?`, [
              BASE,
              BASE + BigInt(N),
            ]);
            for (const r of rows) found.set(BigInt(r.uid), [...(found.get(BigInt(r.uid)) ?? []), `${inst.name}:${table}`]);
          }
        } finally {
          await session.close();
        }
      }),
    );
    expect(found.size).toBe(N);
    const misplaced: string[] = [];
    for (let i = 0; i < N; i++) {
      const uid = uidOf(i);
      const loc = router.topology.locate(uid);
      const expected = `${loc.instance}:${loc.database}.${router.topology.names.table('users', loc.shard)}`;
      if (JSON.stringify(found.get(uid)) !== JSON.stringify([expected]))
        misplaced.push(`${uid}: ${found.get(uid)?.join(',')} ≠ ${expected}`);
    }
    expect(misplaced).toEqual([]);
    const usedShards = new Set(Array.from({ length: N }, (_, i) => router.topology.shardOf(uidOf(i))));
    expect(usedShards.size).toBeGreaterThan(1000);
  });

  it('counts and sums across all 1024 shards with one round trip per instance', async () => {
    const [agg] = await router.select<{ n: bigint; total: string; lo: string; hi: string }>(
      'SELECT COUNT(*) AS n, SUM(balance) AS total, MIN(balance) AS lo, MAX(balance) AS hi FROM users WHERE uid BETWEEN ? AND ?',
      [BASE, BASE + BigInt(N)],
      { scatter: true },
    );
    let total = '0';
    for (let i = 0; i < N; i++) total = addDecimal(total, balanceOf(i));
    const sorted = Array.from({ length: N }, (_, i) => Number(balanceOf(i))).sort((a, b) => a - b);
    expect(agg!.n).toBe(BigInt(N));
    expect(agg!.total).toBe(total);
    expect(Number(agg!.lo)).toBe(sorted[0]);
    expect(Number(agg!.hi)).toBe(sorted[N - 1]);
    expect(router.explain('SELECT COUNT(*) FROM users', [], { scatter: true }).targets).toHaveLength(4);
  });

  it('merges ORDER BY … LIMIT across shards exactly like a reference sort', async () => {
    const rows = await router.select<{ uid: bigint; balance: string }>(
      'SELECT uid, balance FROM users WHERE uid BETWEEN ? AND ? ORDER BY balance DESC, uid ASC LIMIT 25',
      [BASE, BASE + BigInt(N)],
      { scatter: true },
    );
    const reference = Array.from({ length: N }, (_, i) => ({ uid: uidOf(i), balance: balanceOf(i) }))
      .sort((a, b) => Number(b.balance) - Number(a.balance) || (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0))
      .slice(0, 25);
    expect(rows).toEqual(reference);
  });

  it.each(['-- trailing comment', '# trailing comment'])(
    'counts across all shards with a %s (multi-shard parts on one line)',
    async (comment) => {
      const [agg] = await router.select<{ n: bigint }>(
        `SELECT COUNT(*) AS n FROM users WHERE uid BETWEEN ? AND ? ${comment}`,
        [BASE, BASE + BigInt(N)],
        { scatter: true },
      );
      expect(agg!.n).toBe(BigInt(N));
    },
  );

  it('refuses UNION branches on different shards and answers them on one shard', async () => {
    const [a, b] = [uidOf(3), uidOf(1234)];
    expect(router.topology.shardOf(a)).not.toBe(router.topology.shardOf(b));
    const union = 'SELECT uid FROM users WHERE uid = ? UNION ALL SELECT uid FROM users WHERE uid = ?';
    await expect(router.select(union, [a, b])).rejects.toMatchObject({ code: 'SQL_UNSUPPORTED' });
    expect((await router.select<{ uid: bigint }>(union, [a, a])).map((r) => r.uid)).toEqual([a, a]);
    await expect(router.query('DELETE FROM users WHERE uid = ? /*! OR 1=1 */', [a])).rejects.toMatchObject({
      code: 'SQL_EXECUTABLE_COMMENT',
    });
    expect(await router.select('SELECT uid FROM users WHERE uid = ?', [a])).toEqual([{ uid: a }]);
  });

  it('answers an IN list that spans shards', async () => {
    const ids = [3, 1234, 5678, 9999].map(uidOf);
    const rows = await router.select<{ uid: bigint }>('SELECT uid FROM users WHERE uid IN (?, ?, ?, ?)', ids);
    expect(rows.map((r) => r.uid).sort()).toEqual([...ids].sort());
    expect(router.explain('SELECT uid FROM users WHERE uid IN (?, ?, ?, ?)', ids).kind).toBe('multi');
  });

  it('commits a single-shard transaction', async () => {
    const uid = uidOf(42);
    await router.forUid(uid).transaction(async (tx) => {
      await tx.query('UPDATE users SET balance = balance - ? WHERE uid = ?', ['5.00', uid]);
      await tx.query("INSERT INTO orders (uid, order_id, amount, status) VALUES (?, ?, ?, 'paid')", [uid, 3, '5.00']);
    });
    const [user] = await router.select<{ balance: string }>('SELECT balance FROM users WHERE uid = ?', [uid]);
    expect(user!.balance).toBe(addDecimal(balanceOf(42), '-5.00'));
    expect(await router.forUid(uid).query('SELECT amount FROM orders WHERE order_id = ?', [3])).toEqual([{ amount: '5.00' }]);
  });

  it('rolls back when the callback throws', async () => {
    const uid = uidOf(43);
    await expect(
      router.forUid(uid).transaction(async (tx) => {
        await tx.query('UPDATE users SET name = ? WHERE uid = ?', ['changed', uid]);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await router.select('SELECT name FROM users WHERE uid = ?', [uid])).toEqual([{ name: nameOf(43) }]);
  });

  it('refuses a cross-shard statement inside a transaction, rolls back, and releases the connection', async () => {
    const a = uidOf(44);
    let other = 45;
    while (router.topology.shardOf(uidOf(other)) === router.topology.shardOf(a)) other++;
    let caught: unknown;
    await router
      .forUid(a)
      .transaction(async (tx) => {
        await tx.query('UPDATE users SET name = ? WHERE uid = ?', ['in-tx', a]);
        try {
          await tx.query('UPDATE users SET name = ? WHERE uid = ?', ['elsewhere', uidOf(other)]);
        } catch (err) {
          caught = err;
        }
      })
      .catch((err: unknown) => err);
    expect(caught).toBeInstanceOf(RoutingError);
    expect((caught as RoutingError).code).toBe('CROSS_SHARD_TRANSACTION');
    expect(await router.select('SELECT name FROM users WHERE uid IN (?, ?)', [a, uidOf(other)])).toEqual(
      expect.arrayContaining([{ name: nameOf(44) }, { name: nameOf(other) }]),
    );
    expect(await settledBorrowed(router)).toEqual(router.health().map(() => 0));
  });

  it('refuses a write without shard key unless scatter is asked for, and writes nothing', async () => {
    await expect(router.query("UPDATE users SET name = 'hacked' WHERE name = ?", [nameOf(7)])).rejects.toMatchObject({
      code: 'SHARD_KEY_MISSING',
    });
    const [row] = await router.select<{ n: bigint }>("SELECT COUNT(*) AS n FROM users WHERE name = 'hacked'", [], { scatter: true });
    expect(row!.n).toBe(0n);
  });

  it('writes broadcast tables to every instance and reads them anywhere', async () => {
    await router.query('DELETE FROM countries WHERE code = ?', ['ZZ']);
    const written = (await router.query('INSERT INTO countries (code, name) VALUES (?, ?)', ['ZZ', 'Testland'])) as WriteResult;
    expect(written.affectedRows).toBe(config.instances.length);
    for (const inst of config.instances) {
      const session = await openMysqlSession({
        host: inst.host,
        port: inst.port,
        tls: inst.tls,
        serverPublicKey: inst.serverPublicKey,
        user: inst.user,
        password: inst.password,
      });
      try {
        expect(await session.query('SELECT name FROM app_global.countries WHERE code = ?', ['ZZ'])).toEqual([{ name: 'Testland' }]);
      } finally {
        await session.close();
      }
    }
    expect(await router.select('SELECT name FROM countries WHERE code = ?', ['ZZ'])).toEqual([{ name: 'Testland' }]);
    await router.query('DELETE FROM countries WHERE code = ?', ['ZZ']);
  });

  it('running migrate again is a no-op and --verify finds no drift', () => {
    // 1024 × 2 shard tables and the broadcast table on each of the 5 instances; a shard move adds the tables it created on its target
    const again = /applied 0 statement\(s\) on physical targets \((\d+) already applied\)/.exec(shardline('migrate'));
    expect(Number(again?.[1])).toBeGreaterThanOrEqual(2048 + 5);
    const report = JSON.parse(shardline('migrate', '--verify', '--json')) as { drift: boolean; tables: { table: string; found: number }[] };
    expect(report.drift).toBe(false);
    expect(report.tables.map((t) => [t.table, t.found])).toEqual([
      ['users', 1024],
      ['orders', 1024],
      ['countries', 4],
    ]);
  });

  it('migrate --verify reports a physical table that drifted', async () => {
    const inst = config.instances[2]!;
    const session = await openMysqlSession({
      host: inst.host,
      port: inst.port,
      tls: inst.tls,
      serverPublicKey: inst.serverPublicKey,
      user: inst.user,
      password: inst.password,
    });
    try {
      await session.query('ALTER TABLE app_09.orders_0600 ADD COLUMN drift_probe INT');
      let out = '';
      try {
        shardline('migrate', '--verify', '--json');
      } catch (err) {
        out = (err as { stdout: string; status: number }).stdout;
        expect((err as { status: number }).status).toBe(4);
      }
      const report = JSON.parse(out) as { drift: boolean; tables: { table: string; differing: { physical: string }[] }[] };
      expect(report.drift).toBe(true);
      expect(report.tables.find((t) => t.table === 'orders')!.differing.map((d) => d.physical)).toEqual(['app_09.orders_0600']);
    } finally {
      await session.query('ALTER TABLE app_09.orders_0600 DROP COLUMN drift_probe').catch(() => undefined);
      await session.close();
    }
  });
});
