import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { createRouter } from '../../src/index.js';
import { packageRoot } from '../../src/config/index.js';
import { shardline, testConfig } from '../support/cluster.js';

// Issue 16, part 5: a planned failover under a write+read workload through a router in another
// process, on a MySQL and a MariaDB instance; then back, so the cluster ends as it began.
const base = testConfig();

interface Workload {
  acked: string[];
  errors: Record<string, number>;
  lastError: string | null;
  fatal: string[];
  maxGapMs: number;
  reads: number;
  readFailures: number;
}

function startWorkload(instance: string, firstUid: bigint) {
  const child = spawn(
    process.execPath,
    [path.join(packageRoot, 'test/support/failover-workload-child.mjs'), path.join(packageRoot, 'dist'), instance, String(firstUid)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const ready = (async () => {
    while (!out.includes('ready\n')) await sleep(20);
  })();
  let stopped: Promise<Workload> | null = null;
  const stop = (): Promise<Workload> =>
    (stopped ??= (async () => {
      const exited = new Promise((r) => child.once('exit', r));
      if (child.exitCode === null) child.stdin!.write('stop\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
      return JSON.parse(out.trim().split('\n').pop()!) as Workload;
    })());
  return { ready, stop };
}

/** Root on one node of the dev cluster. */
async function onNode<T>(port: number, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', password: '' });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

// a fresh uid range per run: rows of an earlier run must not turn inserts into duplicates
const runBase = 9_180_000_000_000_000n + BigInt(Date.now() % 1_000_000) * 1_000_000n;

describe.each([
  ['shard-1', runBase],
  ['shard-3', runBase + 500_000n],
])('planned failover of %s', (instance, firstUid) => {
  const inst = base.instances.find((i) => i.name === instance)!;
  const replica = inst.replicas![0]!;

  afterAll(async () => {
    // whatever happened, the cluster ends with the configured primary taking writes
    const status = await onNode(inst.port, async (c) => (await c.query('SELECT @@global.read_only AS ro'))[0] as { ro: number }[]);
    if (Number(status[0]!.ro) !== 0) shardline('failover', '--instance', instance, '--to', instance, '--planned', '--json');
  });

  it('moves the writes to the replica and back under load: every acknowledged write is on the new primary, only retriable errors, a bounded pause, routers in both processes follow', async () => {
    const local = await createRouter(base);
    const work = startWorkload(instance, firstUid);
    try {
      await work.ready;
      await sleep(1500);
      const report = JSON.parse(shardline('failover', '--instance', instance, '--planned', '--json')) as {
        from: string;
        to: string;
        write_pause_ms: number;
        repointed: string[];
      };
      expect(report).toMatchObject({ from: instance, to: replica.name, repointed: [instance] });
      await sleep(1500);
      // this process's router followed too
      expect(local.health().find((h) => h.instance === instance)!.primary).toBe(replica.name);
      const result = await work.stop();
      process.stderr.write(
        `[failover] ${instance}: ${result.acked.length} writes acknowledged, errors ${JSON.stringify(result.errors)}, longest gap between writes ${result.maxGapMs} ms, fence→promote ${report.write_pause_ms} ms, ${result.reads} reads (${result.readFailures} failed)\n`,
      );
      expect(result.fatal).toEqual([]);
      // what failed was refused by the fenced node (1290), retriably
      if (result.lastError !== null) expect(result.lastError).toMatch(/^1290 /);
      expect(result.readFailures).toBe(0);
      expect(result.acked.length).toBeGreaterThan(100);
      expect(result.maxGapMs).toBeLessThan(3000);
      // every acknowledged write is on the new primary, and it replicates back to the old one
      const { rows } = await countOn(local, replica.port, instance, result.acked);
      expect(rows).toBe(result.acked.length);
      const w = await local
        .query('INSERT INTO users (uid, name) VALUES (?, ?)', [BigInt(result.acked.at(-1)!) + 7n * 1024n * 1024n, 'after'])
        .catch((e: Error) => e);
      expect(w).not.toBeInstanceOf(Error);
      await sleep(1000);
      const back = await countOn(local, inst.port, instance, result.acked);
      expect(back.rows).toBe(result.acked.length);
      // and back: the configured primary takes writes again
      const again = JSON.parse(shardline('failover', '--instance', instance, '--to', instance, '--planned', '--json')) as { to: string };
      expect(again.to).toBe(instance);
      await sleep(800);
      expect(local.health().find((h) => h.instance === instance)!.primary).toBe(instance);
      await local.query('UPDATE users SET name = ? WHERE uid = ?', ['failed back', BigInt(result.acked[0]!)]);
      for (let i = 0; i < result.acked.length; i += 500)
        await local.query(`DELETE FROM users WHERE uid IN (${result.acked.slice(i, i + 500).join(',')})`);
    } finally {
      await work.stop().catch(() => undefined);
      await local.close();
    }
  }, 120_000);
});

/** How many of `uids` the node at `port` holds (each in its physical table). */
async function countOn(
  router: Awaited<ReturnType<typeof createRouter>>,
  port: number,
  instance: string,
  uids: string[],
): Promise<{ rows: number }> {
  const byTable = new Map<string, string[]>();
  for (const u of uids) {
    const loc = router.topology.locate(BigInt(u));
    expect(loc.instance).toBe(instance);
    const t = `\`${loc.database}\`.\`${router.topology.names.table('users', loc.shard)}\``;
    byTable.set(t, [...(byTable.get(t) ?? []), u]);
  }
  return onNode(port, async (c) => {
    let rows = 0;
    for (const [table, list] of byTable) {
      const [r] = await c.query(`SELECT COUNT(*) AS n FROM ${table} WHERE uid IN (${list.map(() => '?').join(',')})`, list);
      rows += Number((r as { n: number }[])[0]!.n);
    }
    return { rows };
  });
}
