import { execFileSync } from 'node:child_process';
import { parseClusterConfig } from '../../src/config/index.js';
import { createJsSocketLayer } from '../../src/net/index.js';
import { createRouter, type Router } from '../../src/index.js';
import { PrivateMariaDb } from '../support/private-mariadb.js';
import { testConfig } from '../support/cluster.js';

const base = testConfig();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A router over one private (killable) instance and two shared shard instances. */
function chaosConfig(port: number) {
  const [, , s2, s3] = base.instances;
  return parseClusterConfig({
    ...structuredClone(base),
    instances: [
      {
        name: 'victim',
        flavour: 'mariadb',
        host: '127.0.0.1',
        port,
        user: 'shardline',
        password: 'shardline',
        replication: { user: 'x', password: 'x' },
        serverId: 91,
      },
      structuredClone(s2),
      structuredClone(s3),
    ],
    sharding: { shards: 1024, tables: {}, broadcast: [] },
    pool: { max: 8, acquireTimeoutMs: 2000, connectTimeoutMs: 1000, breaker: { openMs: 500 } },
  });
}

/** One UID per instance, so load can be aimed. */
function uidsByInstance(router: Router): Map<string, bigint[]> {
  const out = new Map<string, bigint[]>();
  for (let u = 1n; u < 2000n; u++) {
    const inst = router.topology.locate(u).instance;
    const list = out.get(inst) ?? [];
    if (list.length < 20) list.push(u);
    out.set(inst, list);
  }
  return out;
}

describe('kill -9 one shard instance under load', () => {
  const victim = new PrivateMariaDb({ port: 3341, serverId: 91 });
  let router: Router;

  beforeAll(async () => {
    await victim.start();
    router = await createRouter(chaosConfig(3341));
  }, 60_000);

  afterAll(async () => {
    await router?.close();
    await victim.destroy();
  }, 60_000);

  it('keeps the other instances serving, opens the breaker within 1 s, and recovers after the restart', async () => {
    const uids = uidsByInstance(router);
    const stats = new Map<string, { ok: number; failed: number }>([...uids.keys()].map((k) => [k, { ok: 0, failed: 0 }]));
    const victimOkAfter: number[] = [];
    let stop = false;
    let killedAt = 0;
    let restartedAt = 0;
    let openedAt = 0;
    const targets = [...uids.entries()].flatMap(([inst, list]) => list.map((u) => [inst, u] as const));
    const worker = async (w: number) => {
      for (let i = w; !stop; i += 16) {
        const [inst, uid] = targets[i % targets.length]!;
        try {
          await router.forUid(uid).query('SELECT 1 AS ok');
          stats.get(inst)!.ok++;
          if (inst === 'victim' && restartedAt) victimOkAfter.push(Date.now());
        } catch {
          stats.get(inst)!.failed++;
          if (inst === 'victim') await sleep(5);
        }
      }
    };
    const watcher = (async () => {
      while (!stop) {
        if (killedAt && !openedAt && router.health().find((h) => h.instance === 'victim')!.breaker === 'open') openedAt = Date.now();
        await sleep(5);
      }
    })();
    const load = Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
    await sleep(1500);
    killedAt = Date.now();
    victim.kill9();
    await sleep(2500);
    await victim.start();
    restartedAt = Date.now();
    await sleep(3000);
    stop = true;
    await load;
    await watcher;

    const others = [...stats.entries()].filter(([k]) => k !== 'victim');
    const ok = others.reduce((n, [, s]) => n + s.ok, 0);
    const failed = others.reduce((n, [, s]) => n + s.failed, 0);
    process.stderr.write(
      `[chaos] kill -9: other instances ${ok} ok / ${failed} failed; breaker opened ${openedAt - killedAt} ms after the kill; victim ${JSON.stringify(stats.get('victim'))}\n`,
    );
    expect(ok).toBeGreaterThan(1000);
    expect(ok / (ok + failed)).toBeGreaterThanOrEqual(0.999);
    expect(openedAt).toBeGreaterThan(0);
    expect(openedAt - killedAt).toBeLessThanOrEqual(1000);
    expect(victimOkAfter.length).toBeGreaterThan(0);
    const tail = await Promise.allSettled(uids.get('victim')!.map((u) => router.forUid(u).query('SELECT 1 AS ok')));
    expect(tail.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(router.health().find((h) => h.instance === 'victim')!.breaker).toBe('closed');
  }, 60_000);
});

describe('restart a server while the event loop is busy', () => {
  const server = new PrivateMariaDb({ port: 3342, serverId: 92 });

  beforeAll(() => server.start(), 60_000);
  afterAll(() => server.destroy(), 60_000);

  async function restartWhileBusy(router: Router): Promise<{ failed: number; total: number }> {
    const uids = uidsByInstance(router).get('victim')!.slice(0, 8);
    await Promise.all(uids.map((u) => router.forUid(u).query('SELECT SLEEP(0.05)')));
    expect(router.health().find((h) => h.instance === 'victim')!.pool.available).toBe(8);
    // Synchronous restart: the loop is blocked while the server closes every pooled connection.
    const pid = server.pid;
    execFileSync('sh', ['-c', `kill ${pid}; while [ -e /proc/${pid} ] && ! grep -q '^State:.*Z' /proc/${pid}/status; do sleep 0.05; done`]);
    server.pid = 0;
    await server.start();
    const results = await Promise.allSettled(uids.map((u) => router.forUid(u).query('SELECT 1 AS ok')));
    return { failed: results.filter((r) => r.status === 'rejected').length, total: results.length };
  }

  it('with the native borrow check no borrowed connection fails its first query', async () => {
    const config = chaosConfig(3342);
    const router = await createRouter(config);
    try {
      const r = await restartWhileBusy(router);
      const events = router.health().find((h) => h.instance === 'victim')!.events;
      process.stderr.write(
        `[chaos] restart while busy, native layer: ${r.failed}/${r.total} first queries failed; dead connections removed: ${JSON.stringify(events)}\n`,
      );
      expect(r.failed).toBe(0);
      expect(events.rejectedOnBorrow + events.reapedIdle).toBeGreaterThan(0);
    } finally {
      await router.close();
    }
  }, 60_000);

  it('reports the JS fallback beside it', async () => {
    const router = await createRouter({ config: chaosConfig(3342), socketLayer: createJsSocketLayer('chaos comparison') });
    try {
      const r = await restartWhileBusy(router);
      process.stderr.write(`[chaos] restart while busy, JS layer: ${r.failed}/${r.total} first queries failed\n`);
      expect(r.total).toBe(8);
    } finally {
      await router.close();
    }
  }, 60_000);
});
