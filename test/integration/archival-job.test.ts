import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { bundledClusterConfig, loadClusterConfig, packageRoot, type ClusterConfig } from '../../src/config/index.js';
import { createRouter, type Router, type WriteResult } from '../../src/index.js';
import { openMysqlSession, type MysqlSession } from '../../src/net/index.js';
import { Topology } from '../../src/shard/index.js';
import type { ArchivalRunReport, ArchivalVerifyReport } from '../../src/archival/index.js';
import { shardline } from '../support/cluster.js';

// Issue 18 item 1, the shard side: `shardline archival run` deletes the rows older than the cut from
// every physical table in small key batches (each with its marker row), throttled, killed -9 once
// mid-run and run again, while a writer inserts and updates rows. The oracle is what the test wrote.
// The test has its own databases, meta database and archive database (the naming of the cluster
// file), so nothing else on the cluster — other tests' `users` rows, their archival runs or a CDC
// worker — shares its tables or its marker rows.

const TAG = `arj${process.pid}`;
const META = `shardline_meta_${TAG}`;
const BASE = 9_700_000_000n + BigInt(process.pid % 1000) * 100_000n;
const ROWS = 20_000;
const DAY = 86_400_000;
const OLDER_THAN_DAYS = 100;

const dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-archival-'));
const migrations = path.join(dir, 'migrations');

/** The test's cluster file: the bundled one in its own databases, `users` alone, archived after 100 days. */
function writeConfig(name: string, archival: Record<string, unknown>): string {
  const doc = parse(readFileSync(bundledClusterConfig, 'utf8').replaceAll('../.shardline', path.join(packageRoot, '.shardline'))) as Record<
    string,
    any
  >;
  doc.archive.database = `${TAG}_archive`;
  doc.sharding.naming = { database: `${TAG}_{db:02}`, table: '{table}_{shard:04}', broadcastDatabase: `${TAG}_global`, metaDatabase: META };
  doc.sharding.tables = { users: { shardKey: 'uid', archival: { column: 'created_at', olderThan: `${OLDER_THAN_DAYS}d`, ...archival } } };
  doc.sharding.broadcast = [];
  const file = path.join(dir, name);
  writeFileSync(file, stringify(doc));
  return file;
}

// 6,000 old rows at 500 rows/s (below what the job reaches unthrottled here): the job runs for about
// 12 s — long enough to be killed mid-run, and the throttle is what sets its pace.
const RATE = 500;
const configFile = writeConfig('cluster.yaml', { batchRows: 4, maxRowsPerSecond: RATE });
const config: ClusterConfig = loadClusterConfig(configFile);
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
const owners = topology.map.instances;
let router: Router;
const sessions = new Map<string, MysqlSession>();

const session = async (instance: string): Promise<MysqlSession> => {
  let s = sessions.get(instance);
  if (!s) {
    const inst = config.instances.find((i) => i.name === instance)!;
    s = await openMysqlSession({ ...inst, connectTimeoutMs: 5000 });
    await s.query("SET time_zone = '+00:00'");
    sessions.set(instance, s);
  }
  return s;
};

const physical = (uid: bigint): { instance: string; name: string } => {
  const shard = topology.shardOf(uid);
  return { instance: topology.map.instanceOf(shard), name: topology.names.qualified('users', shard) };
};

/** `YYYY-MM-DD HH:MM:SS.ffffff` (UTC) of `ms` since the epoch. */
const datetime = (ms: number): string => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 23)}000`;

/** Every uid on the shards with its name. */
async function shardRows(): Promise<Map<bigint, string>> {
  const out = new Map<bigint, string>();
  await Promise.all(
    owners.map(async (instance) => {
      const s = await session(instance);
      const shards = topology.map.shardsOf(instance);
      for (let i = 0; i < shards.length; i += 64) {
        const part = shards.slice(i, i + 64).map((shard) => `SELECT uid, name FROM ${topology.names.qualified('users', shard)}`);
        for (const r of await s.query<{ uid: string; name: string }>(part.join(' UNION ALL '))) out.set(BigInt(r.uid), r.name);
      }
    }),
  );
  return out;
}

/** The job's marker rows on every instance: rows removed in all, batches. */
async function markers(): Promise<{ removed: number; batches: number; planned: number; runs: number }> {
  let removed = 0;
  let batches = 0;
  let planned = 0;
  const runs = new Set<string>();
  for (const instance of config.instances.map((i) => i.name)) {
    const s = await session(instance);
    const rows = await s
      .query<{ run_id: string; n: string; removed: string; planned: string }>(
        `SELECT run_id, COUNT(*) AS n, SUM(COALESCE(rows_deleted, rows_planned)) AS removed, SUM(rows_planned) AS planned FROM \`${META}\`.archival_batches WHERE logical_table = 'users' GROUP BY run_id`,
      )
      .catch((err: { errno?: number }) => {
        if (err.errno === 1146) return [];
        throw err;
      });
    for (const r of rows) {
      removed += Number(r.removed);
      batches += Number(r.n);
      planned += Number(r.planned);
      runs.add(r.run_id);
    }
  }
  return { removed, batches, planned, runs: runs.size };
}

/** Runs the built CLI; resolves with its exit code and output whatever the code. */
function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(packageRoot, 'dist', 'cli', 'main.js'), ...args],
      { cwd: packageRoot, encoding: 'utf8', maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function dropAll(): Promise<void> {
  await Promise.all(
    config.instances.map(async (inst) => {
      const s = await session(inst.name);
      const dbs = await s.query<{ d: string }>(
        'SELECT SCHEMA_NAME AS d FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ? OR SCHEMA_NAME = ?',
        [`${TAG}\\_%`, META],
      );
      for (const { d } of dbs) await s.query(`DROP DATABASE \`${d}\``);
    }),
  );
}

/** The oracle: every row the test wrote, and what became of it. */
const oracle = new Map<bigint, { old: boolean; name: string }>();

beforeAll(async () => {
  mkdirSync(migrations, { recursive: true });
  const ddl = /CREATE TABLE IF NOT EXISTS users \([^;]*;/.exec(
    readFileSync(path.join(packageRoot, 'migrations', '0001_initial.sql'), 'utf8'),
  )![0];
  writeFileSync(path.join(migrations, '0001_users.sql'), `${ddl}\n`);
  await dropAll();
  shardline('migrate', '--config', configFile, '--dir', migrations);
  router = await createRouter(config);

  // 20,000 users: 30 % old (200 days, or just past the cut: 100 days + 1 hour), 70 % recent (up to 99 days)
  const now = Date.now();
  const byTable = new Map<string, { instance: string; rows: unknown[][] }>();
  for (let i = 0; i < ROWS; i++) {
    const uid = BASE + BigInt(i);
    const old = i % 10 < 3;
    const age = old ? (i % 20 === 0 ? OLDER_THAN_DAYS * DAY + 3_600_000 : 200 * DAY) : ((i * 7919) % (99 * DAY)) + (i % 13 === 0 ? 0 : 1);
    const p = physical(uid);
    let t = byTable.get(p.name);
    if (!t) byTable.set(p.name, (t = { instance: p.instance, rows: [] }));
    t.rows.push([uid.toString(), `u${i}`, datetime(now - age)]);
    oracle.set(uid, { old, name: `u${i}` });
  }
  await Promise.all(
    owners.map(async (instance) => {
      const s = await session(instance);
      for (const [name, t] of byTable)
        if (t.instance === instance)
          await s.query(`INSERT INTO ${name} (uid, name, created_at) VALUES ${t.rows.map(() => '(?, ?, ?)').join(', ')}`, t.rows.flat());
    }),
  );
}, 180_000);

afterAll(async () => {
  await router?.close();
  await dropAll().catch(() => undefined);
  await Promise.all([...sessions.values()].map((s) => s.close()));
});

const OLD_ROWS = Math.round(ROWS * 0.3);

it('refuses a table without archival config with a typed error', async () => {
  const r = await cli('archival', 'run', '--config', configFile, '--table', 'orders', '--json');
  expect(r.code).toBe(1);
  expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'ARCHIVAL_NOT_CONFIGURED' } });
});

it('the dry run counts exactly what is older than the cut and changes nothing', async () => {
  const r = await cli('archival', 'run', '--config', configFile, '--dry-run', '--json');
  expect(r.code).toBe(0);
  const report = JSON.parse(r.stdout) as ArchivalRunReport;
  expect(report).toMatchObject({
    dry_run: true,
    rows_deleted: 0,
    rows_to_delete: OLD_ROWS,
    tables: [{ table: 'users', column: 'created_at', rows_to_delete: OLD_ROWS, batches: 0, physical_tables: 1024 }],
  });
  expect(report.cut).toBe(report.tables[0]!.cut);
  expect((await shardRows()).size).toBe(ROWS);
  expect((await markers()).batches).toBe(0);
});

it('deletes exactly the old rows in marked batches, killed -9 mid-run and run again, beside a writer that loses nothing', async () => {
  // the writer: new recent rows, updates of recent rows, and "rescues" that make an old row recent
  let stop = false;
  const inserted: bigint[] = [];
  const updated = new Map<bigint, string>();
  const rescued = new Map<bigint, boolean>();
  const olds = [...oracle].filter(([, o]) => o.old).map(([u]) => u);
  const recents = [...oracle].filter(([, o]) => !o.old).map(([u]) => u);
  let step = 0;
  const writer = (async () => {
    while (!stop) {
      const uid = BASE + BigInt(ROWS + inserted.length);
      await router.forUid(uid).query('INSERT INTO users (uid, name) VALUES (?, ?)', [uid, `new${uid}`]);
      inserted.push(uid);
      const recent = recents[(step * 7919) % recents.length]!;
      const name = `upd${step}`;
      await router.forUid(recent).query('UPDATE users SET name = ?, updated_at = NOW(6) WHERE uid = ?', [name, recent]);
      updated.set(recent, name);
      if (step % 10 === 0 && rescued.size < 100) {
        const old = olds[(step * 104_729) % olds.length]!;
        if (!rescued.has(old)) {
          const w = (await router.forUid(old).query('UPDATE users SET created_at = NOW(6) WHERE uid = ?', [old])) as WriteResult;
          rescued.set(old, w.affectedRows === 1);
        }
      }
      step++;
      await sleep(2);
    }
  })();

  // the first run, killed -9 after its first batches
  const child = spawn(
    process.execPath,
    [path.join(packageRoot, 'dist', 'cli', 'main.js'), 'archival', 'run', '--config', configFile, '--json'],
    {
      cwd: packageRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (child.exitCode === null && Date.now() < deadline) {
    if ((await markers()).removed >= 400) break;
    await sleep(20);
  }
  expect(child.exitCode).toBeNull(); // still running: killed mid-run
  child.kill('SIGKILL');
  await exited;
  const afterKill = await markers();
  expect(afterKill.removed).toBeGreaterThanOrEqual(400);
  expect(afterKill.removed).toBeLessThan(OLD_ROWS);

  // run again to completion (the writer still going)
  const second = await cli('archival', 'run', '--config', configFile, '--json');
  stop = true;
  await writer;
  expect(second.code).toBe(0);
  const report = JSON.parse(second.stdout) as ArchivalRunReport;
  expect(Object.keys(report).sort()).toEqual(['cut', 'dry_run', 'now', 'rows_deleted', 'rows_per_s', 'run_id', 'seconds', 'tables'].sort());
  expect(report.dry_run).toBe(false);
  expect(Object.keys(report.tables[0]!).sort()).toEqual(
    ['batches', 'column', 'cut', 'physical_tables', 'rows_deleted', 'seconds', 'table'].sort(),
  );
  const done = await markers();
  expect(done.runs).toBe(2);
  expect(report.rows_deleted).toBe(done.removed - afterKill.removed);
  expect(report.tables[0]!.batches).toBe(done.batches - afterKill.batches);
  // the throttle held, and set the pace
  expect(report.rows_per_s).toBeLessThanOrEqual(RATE * 1.05);
  expect(report.rows_per_s).toBeGreaterThanOrEqual(RATE * 0.5);

  // the oracle: the shards hold exactly the recent rows, the writer's rows and the rescued ones
  const rows = await shardRows();
  const expected = new Set<bigint>();
  for (const [uid, o] of oracle) if (!o.old || rescued.get(uid) === true) expected.add(uid);
  for (const uid of inserted) expected.add(uid);
  const missing = [...expected].filter((u) => !rows.has(u));
  const extra = [...rows.keys()].filter((u) => !expected.has(u));
  expect({ missing: missing.slice(0, 10), extra: extra.slice(0, 10) }).toEqual({ missing: [], extra: [] });
  expect(rows.size).toBe(expected.size);
  // no recent row deleted, every update kept
  for (const [uid, name] of updated) expect([uid, rows.get(uid)]).toEqual([uid, name]);
  // every old row of the test gone (a rescue that found its row gone had lost the race to the job)
  const deleted = [...oracle].filter(([uid, o]) => o.old && rescued.get(uid) !== true).length;
  expect(ROWS - [...oracle.keys()].filter((u) => rows.has(u)).length).toBe(deleted);
  // marker rows count exactly the rows deleted (the killed run's committed batches included)
  expect(done.removed).toBe(deleted);
  expect(done.planned).toBeGreaterThanOrEqual(done.removed);
  process.stderr.write(
    `[archival] killed after ${afterKill.removed} rows (${afterKill.batches} batches); the second run deleted ${report.rows_deleted} rows in ${report.tables[0]!.batches} batches, ${report.seconds.toFixed(2)} s, ${report.rows_per_s} rows/s (bound ${RATE}); writer: ${inserted.length} inserts, ${updated.size} updated rows, ${rescued.size} rescues (${[...rescued.values()].filter(Boolean).length} in time)\n`,
  );

  // a third run finds nothing left
  const third = JSON.parse(shardline('archival', 'run', '--config', configFile, '--json')) as ArchivalRunReport;
  expect(third.rows_deleted).toBe(0);
  expect((await markers()).removed).toBe(deleted);

  // verify: removed from the shards vs marked archived — no CDC feeds this test's archive database, so they differ (exit 1)
  const verify = await cli('archival', 'verify', '--config', configFile, '--json');
  expect(verify.code).toBe(1);
  const v = JSON.parse(verify.stdout) as ArchivalVerifyReport;
  expect(v).toMatchObject({
    differences: 1,
    tables: [{ table: 'users', removed_from_shards: deleted, marked_archived: 0, difference: deleted }],
  });
  expect(v.tables[0]!.note).toMatch(/has no table/);
}, 600_000);

it('measures an unthrottled run (rows/s)', async () => {
  const file = writeConfig('unthrottled.yaml', { batchRows: 500, maxRowsPerSecond: null });
  const now = Date.now();
  const byTable = new Map<string, { instance: string; rows: unknown[][] }>();
  const n = 50_000;
  for (let i = 0; i < n; i++) {
    const uid = BASE + 50_000n + BigInt(i);
    const p = physical(uid);
    let t = byTable.get(p.name);
    if (!t) byTable.set(p.name, (t = { instance: p.instance, rows: [] }));
    t.rows.push([uid.toString(), `m${i}`, datetime(now - 300 * DAY)]);
  }
  await Promise.all(
    owners.map(async (instance) => {
      const s = await session(instance);
      for (const [name, t] of byTable)
        if (t.instance === instance)
          await s.query(`INSERT INTO ${name} (uid, name, created_at) VALUES ${t.rows.map(() => '(?, ?, ?)').join(', ')}`, t.rows.flat());
    }),
  );
  const report = JSON.parse(shardline('archival', 'run', '--config', file, '--json')) as ArchivalRunReport;
  expect(report.rows_deleted).toBe(n);
  process.stderr.write(
    `[archival] unthrottled: ${report.rows_deleted} rows over 1024 physical tables (about ${Math.round(n / 1024)} each) in ${report.tables[0]!.batches} batches, ${report.seconds.toFixed(2)} s: ${report.rows_per_s} rows/s\n`,
  );
}, 300_000);
