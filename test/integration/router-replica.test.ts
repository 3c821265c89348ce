import mysql from 'mysql2/promise';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRouter, RoutingError, type Router, type WriteResult } from '../../src/index.js';
import { parseClusterConfig } from '../../src/config/index.js';
import { devStatusJson, shardline, testConfig } from '../support/cluster.js';

// Issue 16: reads on replicas — read-your-writes tokens, lag awareness, dead replicas — against
// the dev cluster's real replicas (one per shard instance, GTID replication).
const base = testConfig();
const serverIdOf = new Map<number, string>();
for (const inst of base.instances) {
  serverIdOf.set(inst.serverId!, inst.name);
  for (const r of inst.replicas ?? []) serverIdOf.set(r.serverId!, r.name);
}
/** The instances with a replica that own shards (shard-4 has neither: it is the target of shard moves). */
const replicated = base.instances.filter((i) => (i.replicas?.length ?? 0) > 0);
const replicaOf = (instance: string) => base.instances.find((i) => i.name === instance)!.replicas![0]!;
const flavourOf = (instance: string) => base.instances.find((i) => i.name === instance)!.flavour;

function routerConfig(over: Record<string, unknown> = {}) {
  return parseClusterConfig({ ...structuredClone(base), router: { ...base.router, replicaCheckMs: 100, ...over } });
}

/** Root on a replica of the dev cluster (127.0.0.1, no password), for stopping and starting its SQL thread. */
async function onReplica<T>(instance: string, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const r = replicaOf(instance);
  const c = await mysql.createConnection({ host: r.host, port: r.port, user: 'root', password: '' });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
const sqlThread = (instance: string, action: 'STOP' | 'START') =>
  onReplica(instance, (c) => c.query(flavourOf(instance) === 'mysql' ? `${action} REPLICA SQL_THREAD` : `${action} SLAVE SQL_THREAD`));

/** UIDs (from `start`) whose shard lives on each instance. */
function uidsByInstance(router: Router, perInstance: number, start: bigint): Map<string, bigint[]> {
  const out = new Map<string, bigint[]>(replicated.map((i) => [i.name, []]));
  for (let u = start; [...out.values()].some((l) => l.length < perInstance); u++) {
    const list = out.get(router.topology.locate(u).instance);
    if (list && list.length < perInstance) list.push(u);
  }
  return out;
}

const readSql = 'SELECT @@server_id AS sid, name FROM users WHERE uid = ?';
type Read = { sid: number | bigint; name: string };

describe('router reads on replicas', () => {
  let router: Router;
  let uids: Map<string, bigint[]>;
  const all = () => [...uids.values()].flat();

  beforeAll(async () => {
    router = await createRouter(routerConfig());
    uids = uidsByInstance(router, 25, 9_160_000_000_000_000n);
    for (const uid of all()) {
      await router.query('REPLACE INTO users (uid, name, email, balance) VALUES (?, ?, ?, ?)', [uid, 'seed', 'r@example.com', '0.00']);
    }
  });

  afterAll(async () => {
    for (const i of replicated) await sqlThread(i.name, 'START').catch(() => undefined);
    for (const uid of all()) await router.query('DELETE FROM users WHERE uid = ?', [uid]).catch(() => undefined);
    await router.close();
  });

  it('every write carries a token naming the GTID its instance committed; a read after it on a replica sees the write', async () => {
    for (const [instance, list] of uids) {
      const uid = list[0]!;
      const w = (await router.query('UPDATE users SET name = ? WHERE uid = ?', [`token-${instance}`, uid])) as WriteResult;
      const gtid = flavourOf(instance) === 'mysql' ? /^[0-9a-f-]{36}:\d+$/ : /^\d+-\d+-\d+$/;
      expect(w.token).toBeDefined();
      const [prefix, entry, ...more] = w.token!.split('~');
      expect(prefix).toBe('w1');
      expect(more).toEqual([]);
      expect(entry!.startsWith(`${instance}=`)).toBe(true);
      expect(entry!.slice(instance.length + 1)).toMatch(gtid);
      const [row] = await router.select<Read>(readSql, [uid], { after: w.token! });
      expect(row!.name).toBe(`token-${instance}`);
    }
    // the reads went to replicas (the monitor had measured them by then, or the next ones do)
    await sleep(300);
    const served = new Set<string>();
    for (const [, list] of uids) {
      const [row] = await router.select<Read>(readSql, [list[1]!], { consistency: 'replica' });
      served.add(serverIdOf.get(Number(row!.sid))!);
    }
    expect([...served].sort()).toEqual(replicated.map((i) => replicaOf(i.name).name).sort());
  });

  it('2,000 write-then-read pairs through session() see every write while replicas lag (SQL thread stopped); replica reads without a token do not', async () => {
    const pairs = async (read: (uid: bigint, expected: string) => Promise<Read>, write: (uid: bigint, v: string) => Promise<unknown>) => {
      let stale = 0;
      let onReplicas = 0;
      const list = all();
      await Promise.all(
        [0, 1, 2, 3].map(async (k) => {
          for (let i = k; i < 2000; i += 4) {
            const uid = list[i % list.length]!;
            const v = `p${i}-${Math.random().toString(36).slice(2, 8)}`;
            await write(uid, v);
            const row = await read(uid, v);
            if (row.name !== v) stale++;
            if (serverIdOf.get(Number(row.sid))!.endsWith('-replica')) onReplicas++;
          }
        }),
      );
      return { stale, onReplicas };
    };
    // load on the side: other writes on every instance
    let loading = true;
    const load = (async () => {
      const list = all();
      for (let i = 0; loading; i++) await router.query('UPDATE users SET balance = balance + 1 WHERE uid = ?', [list[i % list.length]!]);
    })();
    // a MySQL and a MariaDB replica stop applying for 3 s, twice
    const lagging = (async () => {
      for (let n = 0; n < 2; n++) {
        await sleep(300);
        await Promise.all(['shard-0', 'shard-2'].map((i) => sqlThread(i, 'STOP')));
        await sleep(3000);
        await Promise.all(['shard-0', 'shard-2'].map((i) => sqlThread(i, 'START')));
      }
    })();
    try {
      const session = router.session();
      const withToken = await pairs(
        async (uid) => (await session.select<Read>(readSql, [uid]))[0]!,
        (uid, v) => session.query('UPDATE users SET name = ? WHERE uid = ?', [v, uid]),
      );
      const eventual = await pairs(
        async (uid) => (await router.select<Read>(readSql, [uid], { consistency: 'replica' }))[0]!,
        (uid, v) => router.query('UPDATE users SET name = ? WHERE uid = ?', [v, uid]),
      );
      process.stderr.write(
        `[router-replica] session(): ${withToken.stale} stale of 2000 (${withToken.onReplicas} served by replicas); consistency "replica": ${eventual.stale} stale (${((eventual.stale / 2000) * 100).toFixed(1)} %, ${eventual.onReplicas} served by replicas)\n`,
      );
      expect(withToken.stale).toBe(0);
      expect(withToken.onReplicas).toBeGreaterThan(0);
      expect(eventual.stale).toBeGreaterThan(0);
      expect(session.token).toMatch(/^w1~/);
    } finally {
      loading = false;
      await load;
      await lagging;
    }
  }, 120_000);

  it('a lagging replica is skipped within 2 s and used again once it has caught up', async () => {
    const r = await createRouter(routerConfig({ maxReplicaLagMs: 500 }));
    const [uid, other] = uids.get('shard-1')!;
    const servedBy = async () => serverIdOf.get(Number((await r.select<Read>(readSql, [uid!], { consistency: 'replica' }))[0]!.sid))!;
    try {
      await r.select(readSql, [uid!], { consistency: 'replica' });
      await sleep(500);
      expect(await servedBy()).toBe('shard-1-replica');
      let writing = true;
      const writes = (async () => {
        while (writing) {
          await r.query('UPDATE users SET balance = balance + 1 WHERE uid = ?', [other!]);
          await sleep(20);
        }
      })();
      await sqlThread('shard-1', 'STOP');
      const stoppedAt = performance.now();
      let skippedAfter = Infinity;
      while (performance.now() - stoppedAt < 5000) {
        if ((await servedBy()) === 'shard-1') {
          skippedAfter = performance.now() - stoppedAt;
          break;
        }
        await sleep(25);
      }
      const lag = r.health().find((h) => h.instance === 'shard-1')!.replicas[0]!;
      writing = false;
      await writes;
      await sqlThread('shard-1', 'START');
      expect(skippedAfter).toBeLessThan(2000);
      expect(lag.lagMs === null || lag.lagMs > 500).toBe(true);
      const resumedAt = performance.now();
      while ((await servedBy()) !== 'shard-1-replica' && performance.now() - resumedAt < 5000) await sleep(50);
      expect(await servedBy()).toBe('shard-1-replica');
    } finally {
      await sqlThread('shard-1', 'START').catch(() => undefined);
      await r.close();
    }
  }, 30_000);

  it('writes, transactions and locking reads never go to a replica', async () => {
    const r = await createRouter(routerConfig({ consistency: 'replica' }));
    const uid = uids.get('shard-0')![2]!;
    try {
      await r.select(readSql, [uid]);
      await sleep(400);
      const plain = await r.select<Read>(readSql, [uid]);
      expect(serverIdOf.get(Number(plain[0]!.sid))).toBe('shard-0-replica');
      const locking = await r.select<Read>(`${readSql} FOR UPDATE`, [uid]);
      expect(serverIdOf.get(Number(locking[0]!.sid))).toBe('shard-0');
      const share = await r.select<Read>(`${readSql} LOCK IN SHARE MODE`, [uid]);
      expect(serverIdOf.get(Number(share[0]!.sid))).toBe('shard-0');
      const inTx = await r.forUid(uid).transaction(async (tx) => (await tx.query(readSql, [uid])) as Read[]);
      expect(serverIdOf.get(Number(inTx[0]!.sid))).toBe('shard-0');
      const forced = await r.select<Read>(readSql, [uid], { consistency: 'primary' });
      expect(serverIdOf.get(Number(forced[0]!.sid))).toBe('shard-0');
    } finally {
      await r.close();
    }
  });

  it('router.stream reads where consistency sends it: replicas for "replica", the primaries by default and for locking reads, the primary when a token is not applied in time', async () => {
    const r = await createRouter(routerConfig());
    const list = all();
    const lo = list.reduce((a, b) => (a < b ? a : b));
    const hi = list.reduce((a, b) => (a > b ? a : b)) + 1n;
    const streamSql = 'SELECT @@server_id AS sid, uid, name FROM users WHERE uid >= ? AND uid < ? ORDER BY uid';
    /** Rows of the stream by the node that served them, and the name of each uid. */
    const stream = async (options: Parameters<Router['stream']>[2]) => {
      const by = new Map<string, number>();
      const names = new Map<bigint, string>();
      let last = -1n;
      for await (const row of r.stream<Read & { uid: bigint | string }>(streamSql, [lo, hi], { scatter: true, ...options })) {
        const node = serverIdOf.get(Number(row.sid))!;
        by.set(node, (by.get(node) ?? 0) + 1);
        const uid = BigInt(row.uid);
        expect(uid > last).toBe(true);
        last = uid;
        names.set(uid, row.name);
      }
      return { nodes: [...by.keys()].sort(), rows: [...by.values()].reduce((a, b) => a + b, 0), by, names };
    };
    const replicas = replicated.map((i) => `${i.name}-replica`).sort();
    const primaries = replicated.map((i) => i.name).sort();
    try {
      await r.select(readSql, [list[0]!], { consistency: 'replica' });
      await sleep(400);
      const eventual = await stream({ consistency: 'replica' });
      expect(eventual.nodes).toEqual(replicas);
      expect(eventual.rows).toBe(list.length);
      const byDefault = await stream({});
      expect(byDefault.nodes).toEqual(primaries);
      expect(byDefault.rows).toBe(list.length);
      const one = uids.get('shard-1')![0]!;
      const lockingNodes: string[] = [];
      for await (const row of r.stream<Read>(`${readSql} LOCK IN SHARE MODE`, [one], { consistency: 'replica' }))
        lockingNodes.push(serverIdOf.get(Number(row.sid))!);
      expect(lockingNodes).toEqual(['shard-1']);
      await expect(stream({ after: "w1~shard-0=0-1-1' OR 1=1 --" })).rejects.toMatchObject({ code: 'TOKEN_INVALID' });
      // shard-0's replica stops applying: a stream after a write there waits 300 ms for it, then
      // reads shard-0 on its primary (and sees the write); the other instances' replicas serve
      const uid = uids.get('shard-0')![4]!;
      await sqlThread('shard-0', 'STOP');
      try {
        const w = (await r.query('UPDATE users SET name = ? WHERE uid = ?', ['streamed', uid])) as WriteResult;
        const afterWrite = await stream({ after: w.token!, maxWaitMs: 300 });
        expect(afterWrite.names.get(uid)).toBe('streamed');
        expect(afterWrite.by.get('shard-0')).toBe(uids.get('shard-0')!.length);
        expect(afterWrite.nodes).toEqual(['shard-0', ...replicas.filter((n) => n !== 'shard-0-replica')].sort());
      } finally {
        await sqlThread('shard-0', 'START');
      }
    } finally {
      await r.close();
    }
  }, 60_000);

  it('a transaction through a session joins its token; a malformed token is refused with TOKEN_INVALID', async () => {
    const session = router.session();
    const uid = uids.get('shard-3')![3]!;
    await session.forUid(uid).transaction(async (tx) => {
      await tx.query('UPDATE users SET name = ? WHERE uid = ?', ['in-tx', uid]);
    });
    expect(session.token).toMatch(/^w1~shard-3=\d+-\d+-\d+$/);
    const [row] = await session.select<Read>(readSql, [uid]);
    expect(row!.name).toBe('in-tx');
    // the token passes to another process as a string: a new session seeded with it
    const [again] = await router.session(session.token).select<Read>(readSql, [uid]);
    expect(again!.name).toBe('in-tx');
    const err = await router.select(readSql, [uid], { after: "w1~shard-3=0-1-1' OR 1=1 --" }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RoutingError);
    expect((err as RoutingError).code).toBe('TOKEN_INVALID');
  });

  it('a replica killed -9 costs no read: it is skipped within 2 s and used again after it is back', async () => {
    const r = await createRouter(routerConfig());
    const list = uids.get('shard-3')!;
    const served = async (uid: bigint) =>
      serverIdOf.get(Number((await r.select<Read>(readSql, [uid], { consistency: 'replica' }))[0]!.sid))!;
    try {
      await served(list[0]!);
      await sleep(400);
      expect(await served(list[0]!)).toBe('shard-3-replica');
      let reading = true;
      let failures = 0;
      let reads = 0;
      const readers = [0, 1, 2].map(async (k) => {
        for (let i = k; reading; i += 3) {
          try {
            await served(list[i % list.length]!);
            reads++;
          } catch {
            failures++;
          }
        }
      });
      await sleep(300);
      const victim = devStatusJson().find((s) => s.name === 'shard-3-replica')!;
      process.kill(victim.pid!, 'SIGKILL');
      const killedAt = performance.now();
      let unhealthyAfter = Infinity;
      while (performance.now() - killedAt < 5000) {
        const h = r.health().find((x) => x.instance === 'shard-3')!.replicas[0]!;
        if (!h.healthy) {
          unhealthyAfter = performance.now() - killedAt;
          break;
        }
        await sleep(20);
      }
      await sleep(1000);
      reading = false;
      await Promise.all(readers);
      expect(failures).toBe(0);
      expect(reads).toBeGreaterThan(50);
      expect(unhealthyAfter).toBeLessThan(2000);
      expect(await served(list[1]!)).toBe('shard-3');
      shardline('dev', 'up');
      const upAt = performance.now();
      while ((await served(list[2]!)) !== 'shard-3-replica' && performance.now() - upAt < 30_000) await sleep(200);
      expect(await served(list[2]!)).toBe('shard-3-replica');
    } finally {
      await r.close();
    }
  }, 240_000);
});
