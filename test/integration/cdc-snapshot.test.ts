import { execFile } from 'node:child_process';
import path from 'node:path';
import { ALL_SECTIONS, packageRoot, requireSections } from '../../src/config/index.js';
import { createRouter, loadClusterConfig, type Router } from '../../src/index.js';
import { Topology } from '../../src/shard/index.js';
import { archiveRows, diff, esDocs, sourceRows } from '../support/cdc-equality.js';
import { WorkerProcess, writeCdcTestConfig } from '../support/cdc.js';
import { prng, randomWorkload, uidsCoveringShards } from '../support/cdc-workload.js';
import { shardline } from '../support/cluster.js';

const NAME = `it_snap_${process.pid}`;
const configPath = writeCdcTestConfig(NAME, { snapshot: '{ mode: initial, chunkRows: 500, tablesPerInstance: 2 }' });
const config = requireSections(loadClusterConfig(configPath), ALL_SECTIONS, 'the snapshot test');
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
const BASE = 8_500_000_000n + BigInt(process.pid % 1000) * 1_000_000n;
const INSTANCES = config.instances.map((i) => i.name);
const worker = new WorkerProcess(configPath, 19474);
let router: Router;

beforeAll(async () => {
  shardline('migrate');
  router = await createRouter(config);
});

afterAll(async () => {
  await worker.stop();
  await router?.close();
});

async function until(done: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; worker log: ${worker.log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Updates, deletes and re-inserts rows of `uids` until `stop` resolves: the writes a snapshot must stay correct under. */
async function churn(uids: readonly bigint[], seed: number, stop: { done: boolean }, touched: Set<bigint>): Promise<number> {
  const rnd = prng(seed);
  let ops = 0;
  const one = async () => {
    while (!stop.done) {
      const u = uids[Math.floor(rnd() * uids.length)]!;
      touched.add(u);
      const r = rnd();
      if (r < 0.5) await router.query('UPDATE users SET balance = ?, name = ? WHERE uid = ?', [`${ops}.25`, `churn ${ops}`, u]);
      else if (r < 0.7) {
        await router.forUid(u).transaction(async (tx) => {
          await tx.query('DELETE FROM orders WHERE uid = ?', [u]);
          await tx.query('DELETE FROM users WHERE uid = ?', [u]);
        });
      } else if (r < 0.85) {
        await router.query('INSERT INTO users (uid, name, balance) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE name = VALUES(name)', [
          u,
          `again ${ops}`,
          '1.00',
        ]);
      } else {
        await router.query(
          "INSERT INTO orders (uid, order_id, amount, status, created_at) VALUES (?, 7, ?, 'new', NOW(6)) ON DUPLICATE KEY UPDATE amount = amount + 1",
          [u, '3.50'],
        );
      }
      ops++;
    }
  };
  await Promise.all([one(), one(), one(), one()]);
  return ops;
}

it('an initial snapshot publishes the rows that existed before the first start, correct under concurrent writes and a kill -9', async () => {
  const uids = uidsCoveringShards(topology, BASE, 3);
  const to = uids[uids.length - 1]!;
  const work = await randomWorkload(router, uids, 11);
  expect(work.inserted).toBe(3072);

  const stop = { done: false };
  worker.start();
  const touched = new Set<bigint>();
  const writes = churn(uids.slice(0, uids.length / 2), 12, stop, touched);
  const snapshotRows = async () => {
    const text = await worker.metrics().catch(() => '');
    return [...text.matchAll(/^shardline_snapshot_rows_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  };
  // killed part-way: at 40 % of the rows there are (what other suites left behind counts too, so
  // a fixed figure was out of reach when this suite ran on an almost empty cluster)
  const count = async (table: string) =>
    Number(((await router.query(`SELECT COUNT(*) AS n FROM ${table}`, [], { scatter: true })) as { n: unknown }[])[0]!.n);
  const part = Math.floor(0.4 * ((await count('users')) + (await count('orders'))));
  expect(part).toBeGreaterThan(1000);
  await until(async () => (await snapshotRows()) > part, 120_000, `the snapshot to publish ${part} rows`);
  worker.kill9();
  await worker.exited();
  worker.start();
  const lines = () =>
    worker
      .log()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  await until(
    () => lines().some((l) => l['msg'] === 'snapshot running' && Number(l['rows']) > 0),
    60_000,
    'a restarted snapshot to resume from its committed progress',
  );
  const snapshotsDone = () => lines().filter((l) => l['msg'] === 'snapshot done').length;
  await until(() => snapshotsDone() >= INSTANCES.length, 300_000, 'every instance to finish its snapshot');
  stop.done = true;
  const ops = await writes;
  expect(ops).toBeGreaterThan(100);
  const resumed = lines().filter((l) => l['msg'] === 'snapshot running' && Number(l['rows']) > 0);
  expect(resumed.length).toBeGreaterThan(0);

  const pk = { users: ['uid'], orders: ['uid', 'order_id'] } as const;
  const check = async () => {
    const problems: string[] = [];
    for (const table of ['users', 'orders'] as const) {
      const source = await sourceRows(router, table, pk[table], BASE, to);
      const es = await esDocs(config.elasticsearch.node, `${NAME}-${table}`, BASE, to);
      const archive = await archiveRows(config, `${NAME}_archive`, table, pk[table], BASE, to);
      problems.push(...diff(source, es, `es ${table}`), ...diff(source, archive.live, `archive ${table}`));
    }
    return problems;
  };
  const deadline = Date.now() + 90_000;
  let problems = await check();
  while (problems.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    problems = await check();
  }
  expect(problems).toEqual([]);
  // Rows written before the first start and never changed after it reach the sinks only through the snapshot.
  const source = await sourceRows(router, 'users', ['uid'], BASE, to);
  const untouched = [...source.keys()].filter((k) => !touched.has(BigInt(k)));
  expect(untouched.length).toBeGreaterThan(100);
  const es = await esDocs(config.elasticsearch.node, `${NAME}-users`, BASE, to);
  expect(untouched.filter((k) => !es.has(k))).toEqual([]);
}, 600_000);

it('cdc snapshot --table users --wait --json: the running workers re-read the table and report what they published', async () => {
  const out = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(packageRoot, 'dist', 'cli', 'main.js'), 'cdc', 'snapshot', '--config', configPath, '--table', 'users', '--wait', '--json'],
      { cwd: packageRoot, encoding: 'utf8', timeout: 300_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
  const result = JSON.parse(out.trim().split('\n').pop()!) as {
    table: string;
    shards: string;
    rows: number;
    chunks: number;
    seconds: number;
  };
  expect(result.table).toBe('users');
  expect(result.shards).toBe('0-1023');
  const total = (await router.query('SELECT COUNT(*) AS n FROM users', [], { scatter: true })) as { n: unknown }[];
  // Every users row of the cluster is read once (other tests may write meanwhile: at least the rows that exist now, give or take).
  expect(result.rows).toBeGreaterThan(Number(total[0]!.n) * 0.9);
  expect(result.chunks).toBeGreaterThanOrEqual(1024);
  expect(result.seconds).toBeGreaterThan(0);
  const metrics = await worker.metrics();
  expect(metrics).toMatch(/shardline_snapshot_rows_total\{instance="shard-0",table="users"\} \d+/);
}, 360_000);

it('cdc status --json: every instance has a committed position and no snapshot left running', () => {
  const status = JSON.parse(shardline('cdc', 'status', '--config', configPath, '--json')) as {
    instances: { instance: string; position: { file: string; pos: number } | null; binlogEnd: unknown; snapshot: unknown }[];
  };
  expect(status.instances.map((i) => i.instance)).toEqual(INSTANCES);
  for (const i of status.instances) {
    expect(i.position?.pos).toBeGreaterThan(0);
    expect(i.binlogEnd).not.toBeNull();
    expect(i.snapshot).toBeNull();
  }
});
