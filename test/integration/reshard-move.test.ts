import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRouter, loadClusterConfig } from '../../src/index.js';
import { ALL_SECTIONS, packageRoot, requireSections } from '../../src/config/index.js';
import { openMysqlSession } from '../../src/net/index.js';
import { WorkerProcess, writeCdcTestConfig } from '../support/cdc.js';
import type { FailoverCdc } from '../support/cdc-failover.js';
import { cdcUntouchedByMoves } from '../support/cdc-move.js';
import { shardline, shardlineAsync, testConfig } from '../support/cluster.js';
import { settleMoves } from '../support/reshard-settle.js';

// Issue 17: online shard moves. 64 shards of a MariaDB instance (shard-3) and 64 of a MySQL
// instance (shard-1) move to shard-4 while a router in another process reads and writes on every
// shard (no retries of its own: any error is a failed request); one move is rolled back, the
// other moved back by hand, and the fenced tables are cleaned up — the cluster ends as it began
// (shard map aside: its version is higher). A CDC worker reads every instance throughout: the
// change stream of the moved rows switches instances at each cut-over with nothing lost, nothing
// twice, the moves' own copy and catch-up writes never published, and versions rising per row.
const config = testConfig();
const NAME = `it_reshard_${process.pid}`;
const cdcFile = writeCdcTestConfig(NAME);
const cdc: FailoverCdc = {
  name: NAME,
  config: requireSections(loadClusterConfig(cdcFile), ALL_SECTIONS, 'the reshard test'),
  worker: new WorkerProcess(cdcFile, 19491),
};
const runBase = 9_270_000_000_000_000n + BigInt(Date.now() % 1_000_000) * 1_000_000n;
const MARIADB_SHARDS = '768-831';
const MYSQL_SHARDS = '256-319';

interface MoveJson {
  kind: string;
  shards: string;
  from: string;
  to: string;
  phase: string;
  rows_copied: number;
  changes_applied: number;
  verified_chunks: number;
  differences: number;
  map_version: number;
  fence_ms: number;
  phase_ms: Record<string, number>;
}

interface WorkloadReport {
  requests: number;
  failed: number;
  errors: Record<string, number>;
  lastError: string | null;
  expected: Record<string, number>;
  moving: { n: number; p99Ms: number; maxMs: number };
  other: { n: number; p99Ms: number; maxMs: number };
}

function startWorkload() {
  const child = spawn(
    process.execPath,
    [
      path.join(packageRoot, 'test/support/reshard-workload-child.mjs'),
      path.join(packageRoot, 'dist'),
      String(runBase),
      `${MARIADB_SHARDS},${MYSQL_SHARDS}`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const ready = (async () => {
    while (!out.includes('ready\n')) await sleep(20);
  })();
  let stopped: Promise<WorkloadReport> | null = null;
  const stop = (): Promise<WorkloadReport> =>
    (stopped ??= (async () => {
      const exited = new Promise((r) => child.once('exit', r));
      if (child.exitCode === null) child.stdin!.write('stop\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
      return JSON.parse(out.trim().split('\n').pop()!) as WorkloadReport;
    })());
  return { ready, stop, child };
}

// asynchronously: the router of this process keeps watching the shard map while a move runs
const move = async (...args: string[]) => JSON.parse(await shardlineAsync('reshard', ...args, '--json')) as MoveJson;

/** Waits (at most three of the router's map checks) until `router` has adopted map `version`; that version. */
async function adopted(router: { topology: { map: { version: number } } }, version: number): Promise<number> {
  const deadline = performance.now() + 3 * config.router.shardMapCheckMs + 500;
  while (router.topology.map.version < version && performance.now() < deadline) await sleep(50);
  return router.topology.map.version;
}

/** The tables of `shard` on the node at `port`: which of users_NNNN and _moved_users_NNNN exist. */
async function tablesOn(port: number, shard: number): Promise<string[]> {
  const s = await openMysqlSession({ host: '127.0.0.1', port, user: 'root', password: '' });
  try {
    const rows = await s.query<{ t: string }>(
      'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_NAME IN (?, ?, ?, ?) ORDER BY TABLE_NAME',
      [
        `users_${String(shard).padStart(4, '0')}`,
        `_moved_users_${String(shard).padStart(4, '0')}`,
        `orders_${String(shard).padStart(4, '0')}`,
        `_moved_orders_${String(shard).padStart(4, '0')}`,
      ],
    );
    return rows.map((r) => r.t);
  } finally {
    await s.close();
  }
}

const portOf = (name: string) => config.instances.find((i) => i.name === name)!.port;

beforeAll(async () => {
  shardline('migrate');
  // a move an earlier test left unfinished, fenced tables it left behind
  settleMoves();
  cdc.worker.start();
  await cdc.worker.waitReading(config.instances.map((i) => i.name));
}, 300_000);

afterAll(async () => {
  await cdc.worker.stop();
});

it('moves 64 MariaDB and 64 MySQL shards to shard-4 and back under a read/write workload: no failed request, no lost or repeated write', async () => {
  const local = await createRouter(config);
  const work = startWorkload();
  try {
    await work.ready;
    await sleep(2000);
    const first = await move('move', '--shards', MARIADB_SHARDS, '--to', 'shard-4');
    expect(first).toMatchObject({ kind: 'move', shards: MARIADB_SHARDS, from: 'shard-3', to: 'shard-4', phase: 'done', differences: 0 });
    expect(first.verified_chunks).toBeGreaterThanOrEqual(128);
    expect(await tablesOn(portOf('shard-4'), 800)).toEqual(['orders_0800', 'users_0800']);
    expect(await tablesOn(portOf('shard-3'), 800)).toEqual(['_moved_orders_0800', '_moved_users_0800']);
    const second = await move('move', '--shards', MYSQL_SHARDS, '--to', 'shard-4');
    expect(second).toMatchObject({ from: 'shard-1', to: 'shard-4', phase: 'done', differences: 0, map_version: first.map_version + 1 });
    // this process's router picked up the new map too
    expect(await adopted(local, second.map_version)).toBe(second.map_version);
    expect(local.topology.map.instanceOf(800)).toBe('shard-4');
    expect(local.topology.map.instanceOf(300)).toBe('shard-4');
    expect(local.topology.map.instanceOf(700)).toBe('shard-2');
    const status = JSON.parse(shardline('reshard', 'status', '--json')) as { moves: { shards: string; phase: string }[] };
    expect(status.moves.slice(0, 2).map((m) => [m.shards, m.phase])).toEqual([
      [MYSQL_SHARDS, 'done'],
      [MARIADB_SHARDS, 'done'],
    ]);
    // back: the last move rolled back, the first moved back by hand
    const rolled = await move('rollback');
    expect(rolled).toMatchObject({ kind: 'rollback', shards: MYSQL_SHARDS, from: 'shard-4', to: 'shard-1', phase: 'done', differences: 0 });
    const back = await move('move', '--shards', MARIADB_SHARDS, '--to', 'shard-3');
    expect(back).toMatchObject({ from: 'shard-4', to: 'shard-3', phase: 'done', differences: 0 });
    expect(await adopted(local, back.map_version)).toBe(back.map_version);
    await sleep(1000);
    const result = await work.stop();
    process.stderr.write(
      `[reshard] ${result.requests} requests (${result.failed} failed ${JSON.stringify(result.errors)}), moving shards p99 ${result.moving.p99Ms} ms max ${result.moving.maxMs} ms (${result.moving.n}), others p99 ${result.other.p99Ms} ms max ${result.other.maxMs} ms; moves: ${[first, second, rolled, back].map((m) => `${m.shards} ${m.from}→${m.to} ${m.rows_copied} rows, ${m.changes_applied} changes, fence ${m.fence_ms} ms (flip ${m.phase_ms['fence_flip']}, apply ${m.phase_ms['fence_apply']}, check ${m.phase_ms['fence_check']}, publish ${m.phase_ms['fence_publish']}, checked ${m.phase_ms['fence_checked_tables']}, rename after ${m.phase_ms['rename']})`).join('; ')}\n`,
    );
    expect(result.lastError).toBeNull();
    expect(result.failed).toBe(0);
    expect(result.moving.n).toBeGreaterThan(100);
    expect(local.topology.map.instanceOf(800)).toBe('shard-3');
    expect(local.topology.map.instanceOf(300)).toBe('shard-1');
    // every acknowledged insert and increment is there, once
    const uids = Object.keys(result.expected);
    const seen = new Map<string, number>();
    for (let i = 0; i < uids.length; i += 500) {
      const rows = await local.select<{ uid: bigint; balance: string }>(
        `SELECT uid, balance FROM users WHERE uid IN (${uids.slice(i, i + 500).join(',')})`,
        [],
        { scatter: true },
      );
      for (const r of rows) seen.set(String(r.uid), Math.round(Number(r.balance) * 100));
    }
    const wrong = uids.filter((u) => seen.get(u) !== result.expected[u]).map((u) => `${u}: ${seen.get(u)} != ${result.expected[u]}`);
    expect(wrong).toEqual([]);
    // the change stream: source = Elasticsearch = archive, each change once, versions rising per row
    const stream = await cdcUntouchedByMoves(cdc, local, uids);
    process.stderr.write(
      `[reshard] cdc: ${stream.keys} keys, ${stream.events} events, ${stream.crossed} keys with events from two instances\n`,
    );
    expect(stream.crossed).toBeGreaterThan(10);
    expect(cdc.worker.log()).toMatch(/shard map changed in the binlog/);
    // cleanup drops the fenced tables of the four moves
    const cleaned = JSON.parse(shardline('reshard', 'cleanup', '--json')) as { cleaned: { instance: string; dropped: number }[] };
    expect(cleaned.cleaned.map((c) => c.instance).sort()).toEqual(['shard-1', 'shard-3', 'shard-4', 'shard-4']);
    expect(await tablesOn(portOf('shard-3'), 800)).toEqual(['orders_0800', 'users_0800']);
    expect(await tablesOn(portOf('shard-4'), 800)).toEqual([]);
    for (let i = 0; i < uids.length; i += 500) await local.query(`DELETE FROM users WHERE uid IN (${uids.slice(i, i + 500).join(',')})`);
  } finally {
    await work.stop().catch(() => undefined);
    await local.close();
  }
}, 900_000);
