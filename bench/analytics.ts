/**
 * npm run bench:analytics — issue 18's benchmark: global IDs (`router.nextId`), the cross-shard
 * GROUP BY against the archive, and the archival job's cost to point reads.
 *
 * GROUP BY: BENCH_GROUP_ROWS (1,000,000) users rows are written once through the router (a uid
 * range of their own, spread over the 1024 shards) and into one table on the archive server
 * (MySQL 8.0, database `bench_analytics`). The same GROUP BY (100 text groups under
 * utf8mb4_general_ci, COUNT, SUM, AVG, ORDER BY COUNT DESC LIMIT 10) runs A: through the router
 * across all shards, B: on the one archive table, alternating A B A B … (BENCH_GROUP_ROUNDS, 5 of
 * each); the results must agree. Median and spread of the latency, client CPU per query.
 *
 * - Side A: `router.nextId(name)` with the default blocks (1,000 growing to 1,000,000 IDs per
 *   lease of `<metaDatabase>.id_segments` on the first instance), one caller awaiting each ID,
 *   BENCH_IDS (2,000,000) IDs per round.
 * - Side B: the same allocator with blocks of one ID — a round trip to the table per ID, what a
 *   sequence table without segments costs — BENCH_PER_ID (2,000) IDs per round.
 * - Rounds alternate A B A B … (BENCH_ROUNDS, 3 of each); per side the median and spread of
 *   IDs per second, client CPU per ID (`process.cpuUsage`) and how busy the host was.
 *
 * Archival (archival-bench.ts): point reads of recent rows without and during `shardline archival
 * run` moving BENCH_ARCHIVAL_ROWS old rows out, alternating; `archival_rows_per_s` and
 * `router_p99_ratio_during_archival` (target ≤ 1.5). `group_by_archive_ms` is the archive table
 * queried directly (one table written by the bench, not the CDC's).
 * Progress on stderr; last stdout line: one JSON object with `next_id_per_s` (target ≥ 1,000,000),
 * `group_by_scatter_ms`, `group_by_archive_ms`, `archival_rows_per_s` and
 * `router_p99_ratio_during_archival`.
 */
import mysql from 'mysql2/promise';
import { createRouter, loadClusterConfig, type Router } from 'shardline';
import { bundledClusterConfig, parseClusterConfig } from 'shardline/config';
import { archivalBench } from './archival-bench.js';
import { onCluster } from './cluster.js';
import { hostSpan, median, round, spread } from './stats.js';

const IDS = Number(process.env['BENCH_IDS'] ?? 2_000_000);
const PER_ID = Number(process.env['BENCH_PER_ID'] ?? 2000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const GROUP_ROWS = Number(process.env['BENCH_GROUP_ROWS'] ?? 1_000_000);
const GROUP_ROUNDS = Number(process.env['BENCH_GROUP_ROUNDS'] ?? 5);
const GROUP_BASE = 9_500_000_000n;
const GROUP_SQL =
  'SELECT email COLLATE utf8mb4_general_ci AS e, COUNT(*) AS c, SUM(balance) AS s, AVG(balance) AS a FROM users ' +
  'WHERE uid BETWEEN ? AND ? GROUP BY e ORDER BY c DESC, e LIMIT 10';
const log = (m: string) => process.stderr.write(`[bench:analytics] ${m}\n`);

const groupRow = (i: number) => [
  GROUP_BASE + BigInt(i),
  `user ${i}`,
  `mail-${(i * 7919) % 100}@example.com`,
  `${(i * 31) % 10000}.${String(i % 100).padStart(2, '0')}`,
];

/** Writes the GROUP BY rows once: through the router onto the shards and into one archive table. */
async function groupData(router: Router, archive: mysql.Connection): Promise<void> {
  const range = [GROUP_BASE, GROUP_BASE + BigInt(GROUP_ROWS - 1)];
  await archive.query('CREATE DATABASE IF NOT EXISTS bench_analytics');
  await archive.query(`CREATE TABLE IF NOT EXISTS bench_analytics.users (uid BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(100) NOT NULL,
    email VARCHAR(255) NULL, balance DECIMAL(18,2) NOT NULL DEFAULT 0, created_at DATETIME(6) NULL, updated_at DATETIME(6) NULL) DEFAULT CHARSET=utf8mb4`);
  const [[onArchive]] = (await archive.query(
    'SELECT COUNT(*) AS n FROM bench_analytics.users WHERE uid BETWEEN ? AND ?',
    range,
  )) as unknown as [[{ n: number }]];
  const [onShards] = (await router.query('SELECT COUNT(*) AS n FROM users WHERE uid BETWEEN ? AND ?', range, { scatter: true })) as {
    n: bigint;
  }[];
  if (Number(onArchive.n) === GROUP_ROWS && Number(onShards!.n) === GROUP_ROWS) return;
  log(`writing ${GROUP_ROWS} rows to the shards and the archive table`);
  await router.query('DELETE FROM users WHERE uid BETWEEN ? AND ?', range, { scatter: true });
  await archive.query('DELETE FROM bench_analytics.users WHERE uid BETWEEN ? AND ?', range);
  const BATCH = 1000;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < GROUP_ROWS) {
        const from = next;
        next += BATCH;
        const rows = Array.from({ length: Math.min(BATCH, GROUP_ROWS - from) }, (_, k) => groupRow(from + k));
        const values = rows.map(() => '(?, ?, ?, ?)').join(', ');
        await router.query(`INSERT INTO users (uid, name, email, balance) VALUES ${values}`, rows.flat());
        await archive.query(`INSERT INTO bench_analytics.users (uid, name, email, balance) VALUES ${values}`, rows.flat());
        if ((from / BATCH) % 100 === 0) log(`  ${from} rows (${Math.round(from / ((performance.now() - t0) / 1000))} rows/s)`);
      }
    }),
  );
}

interface GroupRun {
  ms: number;
  cpu_us: number;
  rows: string;
}

async function timed(run: () => Promise<unknown[]>): Promise<GroupRun> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const rows = await run();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const text = JSON.stringify(rows.map((r) => Object.values(r as object).map(String)));
  return { ms: round(ms, 1), cpu_us: Math.round(cpu.user + cpu.system), rows: text };
}

async function groupBy(base: ReturnType<typeof loadClusterConfig>): Promise<Record<string, unknown>> {
  const router = await createRouter(base);
  const a = base.archive!;
  const archive = await mysql.createConnection({
    host: a.host,
    port: a.port,
    user: a.user,
    password: a.password,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  const params = [GROUP_BASE, GROUP_BASE + BigInt(GROUP_ROWS - 1)];
  const shards: GroupRun[] = [];
  const one: GroupRun[] = [];
  try {
    await groupData(router, archive);
    const onArchive = GROUP_SQL.replace('FROM users', 'FROM bench_analytics.users');
    for (let r = 0; r < GROUP_ROUNDS; r++) {
      shards.push(await timed(() => router.query(GROUP_SQL, params, { scatter: true }) as Promise<unknown[]>));
      one.push(await timed(async () => (await archive.query(onArchive, params))[0] as unknown[]));
      log(`round ${r + 1} GROUP BY: shards ${shards.at(-1)!.ms} ms, archive ${one.at(-1)!.ms} ms`);
      if (shards.at(-1)!.rows !== one.at(-1)!.rows) throw new Error(`results differ:\n${shards.at(-1)!.rows}\n${one.at(-1)!.rows}`);
    }
  } finally {
    await router.close();
    await archive.end();
  }
  return {
    group_by_scatter_ms: round(median(shards.map((x) => x.ms))),
    group_by_scatter_ms_spread: spread(shards.map((x) => x.ms)),
    group_by_scatter_client_cpu_ms: round(median(shards.map((x) => x.cpu_us)) / 1000),
    group_by_archive_ms: round(median(one.map((x) => x.ms))),
    group_by_archive_ms_spread: spread(one.map((x) => x.ms)),
    group_by_rows: GROUP_ROWS,
  };
}

interface Run {
  ids_per_s: number;
  cpu_ns_per_id: number;
  host_busy_pct: number;
}

async function side(router: Router, name: string, n: number): Promise<Run> {
  const span = hostSpan();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let last = 0n;
  for (let i = 0; i < n; i++) {
    const id = await router.nextId(name);
    if (id <= last) throw new Error(`IDs not increasing: ${id} after ${last}`);
    last = id;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  return {
    ids_per_s: Math.round(n / seconds),
    cpu_ns_per_id: Math.round(((cpu.user + cpu.system) * 1000) / n),
    host_busy_pct: span().host_busy_pct,
  };
}

await onCluster(async () => {
  const base = loadClusterConfig(bundledClusterConfig);
  const segments = await createRouter(base);
  const perId = await createRouter(
    parseClusterConfig({ ...structuredClone(base), router: { ...base.router, ids: { initialBlock: 1, maxBlock: 1 } } }),
  );
  const name = `bench_ids_${process.pid}`;
  const a: Run[] = [];
  const b: Run[] = [];
  try {
    await segments.nextId(name);
    await perId.nextId(name);
    for (let r = 0; r < ROUNDS; r++) {
      a.push(await side(segments, name, IDS));
      log(`round ${r + 1} A (segments): ${a.at(-1)!.ids_per_s} IDs/s, ${a.at(-1)!.cpu_ns_per_id} ns CPU per ID`);
      b.push(await side(perId, name, PER_ID));
      log(`round ${r + 1} B (one ID per lease): ${b.at(-1)!.ids_per_s} IDs/s, ${b.at(-1)!.cpu_ns_per_id} ns CPU per ID`);
    }
  } finally {
    await segments.close();
    await perId.close();
  }
  const grouped = await groupBy(base);
  const recent = Array.from({ length: 5000 }, (_, i) => GROUP_BASE + BigInt((i * 7919) % GROUP_ROWS));
  const archival = await archivalBench(recent, log);
  const pick = (runs: Run[], k: keyof Run) => runs.map((x) => x[k]);
  const summary = {
    ...grouped,
    ...archival,
    next_id_per_s: Math.round(median(pick(a, 'ids_per_s'))),
    next_id_per_s_spread: spread(pick(a, 'ids_per_s')),
    next_id_cpu_ns_per_id: Math.round(median(pick(a, 'cpu_ns_per_id'))),
    per_id_lease_per_s: Math.round(median(pick(b, 'ids_per_s'))),
    per_id_lease_per_s_spread: spread(pick(b, 'ids_per_s')),
    per_id_lease_cpu_ns_per_id: Math.round(median(pick(b, 'cpu_ns_per_id'))),
    ratio_vs_per_id_lease: round(median(pick(a, 'ids_per_s')) / median(pick(b, 'ids_per_s')), 1),
    host_busy_pct: { segments: spread(pick(a, 'host_busy_pct')), per_id: spread(pick(b, 'host_busy_pct')) },
    rounds: ROUNDS,
    ids_per_round: { segments: IDS, per_id: PER_ID },
    targets: { next_id_per_s: '>= 1000000', router_p99_ratio_during_archival: '<= 1.5' },
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
});
