import { openMysqlSession, type MysqlSession } from '../../src/net/index.js';
import { MultiShardWriteError } from '../../src/errors/index.js';
import { createRouter, type Router, type WriteResult } from '../../src/index.js';
import { shardline, testConfig } from '../support/cluster.js';
import { binlogEnd, binlogTransactionTables } from '../support/binlog-transactions.js';

/**
 * Multi-shard writes on the shared cluster: one transaction per instance, sent in one round
 * trip, and a typed error saying which instances committed when one fails. (XA — `atomic: true`
 * — runs on private servers in router-xa.test.ts: the CDC worker does not read XA binlog events.)
 */
const config = testConfig();
const BASE = 9_140_000_000n;
let router: Router;
const sessions = new Map<string, MysqlSession>();

/** 100 UIDs on 100 different shards (the first that hash to a new shard). */
function uidsOnDistinctShards(count: number, from: bigint): bigint[] {
  const seen = new Set<number>();
  const out: bigint[] = [];
  for (let u = from; out.length < count; u++) {
    const shard = router.topology.shardOf(u);
    if (seen.has(shard)) continue;
    seen.add(shard);
    out.push(u);
  }
  return out;
}

const insertSql = (n: number) =>
  `INSERT INTO users (uid, name, email, balance) VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?)').join(', ')}`;
const values = (uids: readonly bigint[]) => uids.flatMap((u) => [u, `n-${u}`, `${u}@example.com`, '1.00']);

async function present(uids: readonly bigint[]): Promise<Set<bigint>> {
  const rows = await router.select<{ uid: bigint }>(`SELECT uid FROM users WHERE uid IN (${uids.map(() => '?').join(', ')})`, uids);
  return new Set(rows.map((r) => r.uid));
}

beforeAll(async () => {
  shardline('migrate');
  router = await createRouter(config);
  await router.query('DELETE FROM users WHERE uid BETWEEN ? AND ?', [BASE, BASE + 1_000_000n], { scatter: true });
  // the instances that hold shards (shard-4 holds none until a move)
  const owners = new Set(Array.from({ length: router.topology.map.shardCount }, (_, i) => router.topology.map.instanceOf(i)));
  for (const inst of config.instances.filter((i) => owners.has(i.name)))
    sessions.set(
      inst.name,
      await openMysqlSession({
        host: inst.host,
        port: inst.port,
        user: inst.user,
        password: inst.password,
        serverPublicKey: inst.serverPublicKey,
      }),
    );
}, 120_000);

afterAll(async () => {
  await router?.query('DELETE FROM users WHERE uid BETWEEN ? AND ?', [BASE, BASE + 1_000_000n], { scatter: true }).catch(() => undefined);
  for (const s of sessions.values()) await s.close();
  await router?.close();
});

/** The row of `uid` read straight from its physical table on its instance (no planner in between). */
async function physicalRow(uid: bigint): Promise<{ name: string } | undefined> {
  const loc = router.topology.locate(uid);
  const table = router.topology.names.table('users', loc.shard);
  const rows = await sessions
    .get(loc.instance)!
    .query<{ name: string }>(`SELECT name FROM \`${loc.database}\`.\`${table}\` WHERE uid = ?`, [uid]);
  return rows[0];
}

describe('multi-shard writes bounded by a shard-key IN list', () => {
  it('an UPDATE and a DELETE over 200 values (placeholders and literals) change exactly those rows, each shard given only its own values', async () => {
    const uids = Array.from({ length: 200 }, (_, i) => BASE + 500_000n + BigInt(i * 7));
    const controls = Array.from({ length: 20 }, (_, i) => BASE + 500_001n + BigInt(i * 7));
    await router.query(insertSql(220), values([...uids, ...controls]));
    const literal = (i: number) => i % 3 === 0;
    const list = uids.map((u, i) => (literal(i) ? String(u) : '?')).join(', ');
    const listParams = uids.filter((_, i) => !literal(i));
    const shards = new Set(uids.map((u) => router.topology.shardOf(u)));
    expect(shards.size).toBeGreaterThan(100);
    // every shard's statement carries only the values that hash to it
    const plan = router.explain(`UPDATE users SET name = ? WHERE uid IN (${list}) AND balance = ?`, ['in-list', ...listParams, '1.00']);
    expect(plan.targets.reduce((n, t) => n + (t.sql.match(/\?/g) ?? []).length - 2, 0) + Math.ceil(200 / 3)).toBe(200);

    const updated = (await router.query(`UPDATE users SET name = ? WHERE uid IN (${list}) AND balance = ?`, [
      'in-list',
      ...listParams,
      '1.00',
    ])) as WriteResult;
    expect(updated.affectedRows).toBe(200);
    for (const u of uids) expect(await physicalRow(u)).toEqual({ name: 'in-list' });
    for (const u of controls) expect(await physicalRow(u)).toEqual({ name: `n-${u}` });

    const deleted = (await router.query(`DELETE FROM users WHERE uid IN (${list})`, listParams)) as WriteResult;
    expect(deleted.affectedRows).toBe(200);
    for (const u of uids) expect(await physicalRow(u)).toBeUndefined();
    for (const u of controls) expect(await physicalRow(u)).toEqual({ name: `n-${u}` });
  });
});

describe('multi-shard writes: one transaction per instance', () => {
  it('a 100-row INSERT on 100 shards lands every row, in exactly one binlog transaction per instance', async () => {
    const uids = uidsOnDistinctShards(100, BASE);
    const plan = router.explain(insertSql(100), values(uids));
    expect(plan.shards).toHaveLength(100);
    const starts = new Map<string, { file: string; pos: number }>();
    for (const [name, s] of sessions) starts.set(name, await binlogEnd(s));

    const result = (await router.query(insertSql(100), values(uids))) as WriteResult;
    expect(result.affectedRows).toBe(100);
    expect((await present(uids)).size).toBe(100);

    for (const [name, s] of sessions) {
      // The physical tables this instance got rows in, and the binlog transactions since the start.
      const tables = new Set(
        plan.targets.filter((t) => t.instance === name).map((t) => /INTO\s+`?([\w]+)`?\.`?([\w]+)`?/i.exec(t.sql)!.slice(1, 3).join('.')),
      );
      expect(tables.size).toBeGreaterThan(1);
      const txs = await binlogTransactionTables(s, starts.get(name)!);
      const ours = txs.filter((tx) => [...tx].some((t) => tables.has(t)));
      // Other tests may write meanwhile, but no one else writes these UIDs: every table of ours
      // is in one and the same transaction (the old executor wrote one transaction per shard).
      expect(ours.filter((tx) => [...tables].every((t) => tx.has(t)))).toHaveLength(1);
    }
  });

  it('a duplicate key on one instance: the typed error names what committed and what rolled back, and that instance wrote nothing', async () => {
    const uids = uidsOnDistinctShards(100, BASE + 10_000n);
    const victim = uids[37]!;
    const victimInstance = router.topology.locate(victim).instance;
    await router.query(insertSql(1), values([victim]));

    let error: unknown;
    try {
      await router.query(insertSql(100), values(uids));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(MultiShardWriteError);
    const e = error as MultiShardWriteError;
    expect(e.code).toBe('MULTI_SHARD_WRITE_FAILED');
    expect(e.retriable).toBe(false);
    expect(e.rolledBack).toEqual([victimInstance]);
    expect(e.unknown).toEqual([]);
    expect(e.committed.sort()).toEqual([...sessions.keys()].filter((n) => n !== victimInstance).sort());
    const failed = e.instances.find((i) => i.instance === victimInstance)!;
    expect(failed.error?.message).toMatch(/Duplicate entry/);
    expect(failed.affectedRows).toBe(0);

    const onVictim = uids.filter((u) => router.topology.locate(u).instance === victimInstance);
    const elsewhere = uids.filter((u) => router.topology.locate(u).instance !== victimInstance);
    const committedRows = e.instances.filter((i) => i.status === 'committed').reduce((n, i) => n + i.affectedRows, 0);
    expect(committedRows).toBe(elsewhere.length);
    const found = await present(uids);
    expect(elsewhere.every((u) => found.has(u))).toBe(true);
    // Only the row inserted before survives on the failed instance: its other rows were rolled back.
    expect(onVictim.filter((u) => found.has(u))).toEqual([victim]);
  });
});
