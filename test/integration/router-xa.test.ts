import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseClusterConfig, packageRoot, type ClusterConfig } from '../../src/config/index.js';
import { MultiShardWriteError } from '../../src/errors/index.js';
import { openDbConnection, openMysqlSession, type MysqlSession } from '../../src/net/index.js';
import { createRouter, type Router, type WriteResult } from '../../src/router/index.js';
import { shardline } from '../support/cluster.js';
import { PrivateService } from '../support/private-services.js';

/**
 * Atomic (XA) multi-shard writes and `shardline xa recover`, on private servers — a MySQL 8.0 and
 * a MariaDB 10.11 — whose global sql_mode includes NO_BACKSLASH_ESCAPES, and whose prepared
 * branches left behind by the crash cases must not hold back the shared cluster's CDC readers
 * (a prepared branch keeps a reader's restart point at its start until it is finished).
 */
const servers = [
  new PrivateService({ name: 'xa-mysql', kind: 'mysql', port: 3361, serverId: 61 }),
  new PrivateService({ name: 'xa-mariadb', kind: 'mariadb', port: 3362, serverId: 62 }),
];
const dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-xa-'));
const configPath = path.join(dir, 'cluster.yaml');
let config: ClusterConfig;
let router: Router;
const roots = new Map<string, MysqlSession>();

function clusterInput() {
  return {
    instances: servers.map((s) => ({
      name: s.options.name,
      flavour: s.options.kind,
      host: '127.0.0.1',
      port: s.options.port,
      user: 'shardline',
      password: 'shardline',
      ...(s.options.kind === 'mysql' ? { serverPublicKey: path.join(s.dataDir, 'public_key.pem') } : {}),
    })),
    sharding: { shards: 16, tables: { items: { shardKey: 'uid' } } },
  };
}

/** UIDs on `n` distinct shards, starting at `from`. */
function uidsOn(n: number, from: bigint): bigint[] {
  const seen = new Set<number>();
  const out: bigint[] = [];
  for (let u = from; out.length < n; u++) {
    if (seen.has(router.topology.shardOf(u))) continue;
    seen.add(router.topology.shardOf(u));
    out.push(u);
  }
  return out;
}

const insert = (uids: readonly bigint[], v: string) =>
  [`INSERT INTO items (uid, v) VALUES ${uids.map(() => '(?, ?)').join(', ')}`, uids.flatMap((u) => [u, v])] as const;

async function found(uids: readonly bigint[]): Promise<bigint[]> {
  const rows = await router.select<{ uid: bigint }>(`SELECT uid FROM items WHERE uid IN (${uids.map(() => '?').join(', ')})`, uids);
  return rows.map((r) => r.uid).sort((a, b) => (a < b ? -1 : 1));
}

async function prepared(): Promise<string[]> {
  const out: string[] = [];
  for (const [name, s] of roots) for (const r of await s.query<{ data: unknown }>('XA RECOVER')) out.push(`${name}:${String(r.data)}`);
  return out;
}

beforeAll(async () => {
  await Promise.all(servers.map((s) => s.start()));
  config = parseClusterConfig(clusterInput());
  writeFileSync(configPath, JSON.stringify(clusterInput()));
  router = await createRouter(config);
  for (const s of servers) {
    const root = await openMysqlSession({ socketPath: s.dir.socket(s.options.name), user: 'root', password: '' });
    await root.query("SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES')");
    roots.set(s.options.name, root);
  }
  for (let shard = 0; shard < 16; shard++) {
    const loc = router.topology.names;
    const table = loc.qualified('items', shard);
    const root = roots.get(router.topology.map.instanceOf(shard))!;
    await root.query(`CREATE DATABASE IF NOT EXISTS ${table.split('.')[0]}`);
    await root.query(`CREATE TABLE ${table} (uid BIGINT PRIMARY KEY, v VARCHAR(64) NOT NULL)`);
  }
}, 240_000);

afterAll(async () => {
  await router?.close();
  for (const r of roots.values()) await r.close();
  await Promise.all(servers.map((s) => s.destroy()));
  rmSync(dir, { recursive: true, force: true });
});

describe('atomic multi-shard writes (XA) on MySQL 8.0 + MariaDB 10.11', () => {
  it('commits on both instances; no branch is left prepared', async () => {
    const uids = uidsOn(10, 1000n);
    const [sql, values] = insert(uids, 'ok');
    expect(new Set(router.explain(sql, values).targets.map((t) => t.instance)).size).toBe(2);
    const r = (await router.query(sql, values, { atomic: true })) as WriteResult;
    expect(r.affectedRows).toBe(10);
    expect(await found(uids)).toEqual(uids);
    expect(await prepared()).toEqual([]);
  });

  it('a duplicate key on one instance rolls back every instance', async () => {
    const uids = uidsOn(10, 2000n);
    const victim = uids.find((u) => router.topology.locate(u).instance === 'xa-mariadb')!;
    await router.query(...insert([victim], 'before'));
    const err = await router.query(...insert(uids, 'dup'), { atomic: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MultiShardWriteError);
    const e = err as MultiShardWriteError;
    expect(e.atomic).toBe(true);
    expect(e.committed).toEqual([]);
    expect(e.rolledBack.sort()).toEqual(['xa-mariadb', 'xa-mysql']);
    expect(await found(uids)).toEqual([victim]);
    expect(await prepared()).toEqual([]);
  });

  it('without atomic, the same failure leaves the other instance committed', async () => {
    const uids = uidsOn(10, 3000n);
    const victim = uids.find((u) => router.topology.locate(u).instance === 'xa-mariadb')!;
    await router.query(...insert([victim], 'before'));
    const e = (await router.query(...insert(uids, 'dup')).catch((x: unknown) => x)) as MultiShardWriteError;
    expect([e.committed, e.rolledBack]).toEqual([['xa-mysql'], ['xa-mariadb']]);
    const onMysql = uids.filter((u) => router.topology.locate(u).instance === 'xa-mysql');
    expect(await found(uids)).toEqual([...onMysql, victim].sort((a, b) => (a < b ? -1 : 1)));
  });

  it('values stay bound in a batch packet even when the session has NO_BACKSLASH_ESCAPES', async () => {
    const hostile = ["\\'); DELETE FROM app_00.items_0000; -- ", "it''s \\' # x", 'a\\', "'"];
    for (const s of servers) {
      const conn = await openDbConnection(
        {
          name: s.options.name,
          host: '127.0.0.1',
          port: s.options.port,
          user: 'shardline',
          password: 'shardline',
          ...(s.options.kind === 'mysql' ? { serverPublicKey: path.join(s.dataDir, 'public_key.pem') } : {}),
        },
        undefined,
        { multipleStatements: true },
      );
      try {
        await conn.query("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'", []);
        const shard = [...Array(16).keys()].find((x) => router.topology.map.instanceOf(x) === s.options.name)!;
        const table = router.topology.names.qualified('items', shard);
        const uids = hostile.map((_, i) => 900_000n + BigInt(i) + BigInt(shard) * 100n);
        const reply = await conn.batch!([
          { sql: 'START TRANSACTION', params: [] },
          ...hostile.map((v, i) => ({ sql: `INSERT INTO ${table} (uid, v) VALUES (?, ?)`, params: [uids[i], v] })),
          { sql: 'COMMIT', params: [] },
        ]);
        expect(reply.error).toBeUndefined();
        const rows = await roots
          .get(s.options.name)!
          .query<{ uid: string | bigint; v: string }>(`SELECT uid, v FROM ${table} WHERE uid >= 900000 ORDER BY uid`);
        expect(rows.map((r) => r.v)).toEqual(hostile);
      } finally {
        await conn.close();
      }
    }
  });

  it.each(['decided', 'prepared'] as const)(
    'a coordinator killed (SIGKILL) %s: `shardline xa recover` finishes its branches by the decision',
    async (stage) => {
      const uids = uidsOn(6, stage === 'decided' ? 4000n : 5000n);
      const child = spawn(
        process.execPath,
        [path.join(packageRoot, 'test/support/xa-crash-child.mjs'), configPath, stage, JSON.stringify(uids.map(String))],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const gtrid = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (b: Buffer) => {
          const m = /"gtrid":"([^"]+)"/.exec(b.toString());
          if (m) resolve(m[1]!);
          else reject(new Error(`child said ${b.toString()}`));
        });
        child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
      });
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      // Both branches are prepared, and survive the coordinator.
      const before = await prepared();
      expect(before.filter((x) => x.includes(gtrid))).toHaveLength(2);
      expect(await found(uids)).toEqual([]);

      const out = JSON.parse(shardline('xa', 'recover', '--config', configPath, '--json', '--older-than', '0')) as {
        branches: { gtrid: string; action: string; result: string; decision: string | null }[];
      };
      const mine = out.branches.filter((b) => b.gtrid === gtrid);
      expect(mine).toHaveLength(2);
      expect(mine.every((b) => b.result === 'done' && b.action === (stage === 'decided' ? 'commit' : 'rollback'))).toBe(true);
      expect(await prepared()).toEqual([]);
      expect(await found(uids)).toEqual(stage === 'decided' ? uids : []);
    },
    60_000,
  );
});
