/**
 * npm run bench:snapshot — shardline's initial snapshot against Debezium's (issue 15), on the same
 * physical tables of the same MySQL instance (shard-0 of the local cluster):
 *
 * - data: a users-like logical table `snapbench_<pid>` created on all 1024 shards as the cluster
 *   names them (`app_00.snapbench_<pid>_0000` …), BENCH_ROWS (1,000,000) rows in the 256 shards of
 *   shard-0 (bigint pk, bigint, varchar ×2, decimal, tinyint, datetime(6), nullable timestamp(6),
 *   nullable text), generated server-side, the other instances' shards empty; dropped at the end.
 *   Shards of one logical table, as in a fleet: one change topic (256 unrelated tables would be
 *   256 topics, a Kafka cost no sharded deployment has);
 * - Debezium side: Debezium embedded 3.6.1.Final, snapshot.mode=initial_only, into a no-op
 *   consumer (bench/debezium.ts); its rate runs from the engine's start (global read lock and
 *   schema reading included) to the last record;
 * - shardline side, in this process: the real SnapshotFeed (chunk reader on the replication
 *   account, no lock, canonical values, document ids, the JSON change events the pipeline hands to
 *   Kafka) with cdc.snapshot's settings, into a no-op sink (the messages are counted and dropped,
 *   each taken batch counts as committed at once); from the feed's start to its end;
 * - the sides alternate, shardline first (S D S D …), BENCH_ROUNDS (2) rounds each; medians and
 *   spreads, client CPU per row (this process's cpuUsage; the JVM's process CPU) and host busyness
 *   (/proc/stat) over each run;
 * - rows_per_s_to_kafka: a real worker (`node dist/cli/main.js cdc --role reader`) on a config of
 *   its own that captures only the bench table (every other table excluded; it also snapshots the
 *   empty shards of the other instances) with
 *   cdc.snapshot.mode initial; from the snapshot's start (shardline_snapshot_running 1) to its end
 *   (back to 0 with every row published; the last Kafka transaction closes within cdc.batch.maxMs);
 * - router_p99_ratio_during_snapshot: router point-SELECTs by uid on users shards of shard-0 (two
 *   loops, 2 ms pause, in a process of their own: bench/router-probe-child.ts) while that worker
 *   snapshots at the default throttle, A-B-A: p99 during the snapshot ÷ p99 of BENCH_ROUTER_S (10)
 *   seconds before the worker starts and as long after its snapshot ended (worker alive,
 *   streaming an idle source), pooled. BENCH_PAUSE_MS > 0 alternates instead: the worker runs that
 *   long, then is frozen (SIGSTOP) as long — rejected as the default: a frozen worker leaves out
 *   its idle work from "without" and bursts its backlog on SIGCONT into "during";
 *   rows_per_s_to_kafka counts running time only;
 * - worker_rss_mb: that worker's peak RSS (VmHWM).
 *
 * Environment: BENCH_ROWS, BENCH_ROUNDS, BENCH_CHUNK_ROWS / BENCH_TABLES_PER_INSTANCE /
 * BENCH_MAX_ROWS_PER_S (the worker's throttle; 0 = none)
 * (default: cdc.snapshot's defaults; used on both shardline paths), BENCH_SIDES (both | shardline |
 * debezium), BENCH_KAFKA=0 (skip the worker run and the router probe), BENCH_ROUTER_S,
 * BENCH_PARTITIONS (cdc.partitions of the worker's config, 4), BENCH_CPU_PROF=1 (the shardline
 * rounds under the V8 profiler, top self time on stderr), BENCH_KEEP=1 (keep the tables),
 * BENCH_COMPRESSION (the worker's cdc.compression; unset: the default), BENCH_WORKER_PROF=<dir> (the worker under --cpu-prof, profile written there on exit),
 * BENCH_ADMIN_USER / BENCH_ADMIN_PASSWORD (root / empty). Progress on stderr; last stdout line: one
 * JSON object.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import pino from 'pino';
import { loadClusterConfig, Topology } from 'shardline';
import { ALL_SECTIONS, bundledClusterConfig, requireSections } from 'shardline/config';
import { systemClock } from '../src/retry/index.js';
import type { EventLog } from '../src/cdc/kafka/event-log.js';
import type { SnapshotTable } from '../src/cdc/snapshot/chunk-reader.js';
import { SnapshotFeed } from '../src/cdc/snapshot/snapshot-feed.js';
import { snapshotSession } from '../src/cdc/snapshot/snapshot-session.js';
import { SnapshotStore } from '../src/cdc/snapshot/snapshot-store.js';
import { onCluster } from './cluster.js';
import { hostSpan, median, round, spread, type SideRun } from './stats.js';
import {
  buildDebezium,
  debeziumSideRun,
  ensureDebeziumUser,
  runDebeziumSnapshot,
  writeServerPublicKey,
  type DebeziumRun,
} from './debezium.js';
import { dropKafkaState, e2eNames } from './e2e-config.js';
import { hostCpu, metric, parseMetrics, procCpuSeconds, procMemory, servicePids, topSelfTime, selfTimeByArea } from './e2e-probe.js';

const env = (key: string, fallback: number) => Number(process.env[key] ?? fallback);
const ROWS = env('BENCH_ROWS', 1_000_000);
const ROUNDS = Math.max(1, env('BENCH_ROUNDS', 2));
const SIDES = process.env['BENCH_SIDES'] ?? 'both';
const KAFKA = process.env['BENCH_KAFKA'] !== '0';
const ROUTER_S = env('BENCH_ROUTER_S', 10);
const PARTITIONS = env('BENCH_PARTITIONS', 4);
const CPU_PROF = process.env['BENCH_CPU_PROF'] === '1';
const WORKER_PROF = process.env['BENCH_WORKER_PROF'] ?? '';
const PAUSE_MS = env('BENCH_PAUSE_MS', 0);
const INSTANCE = 'shard-0';
const DB = `bench_snap_${process.pid}`;
const HTTP_PORT = 19_500 + (process.pid % 200);
/** How often the worker's /metrics is scraped (during the snapshot and the after window alike). */
const SCRAPE_MS = 1000;

const root = path.resolve(import.meta.dirname, '..', '..');
const log = (msg: string) => process.stderr.write(`[bench:snapshot] ${msg}\n`);
const quantile = (sorted: number[], q: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! : NaN;

const config = requireSections(loadClusterConfig(bundledClusterConfig), ALL_SECTIONS, 'the snapshot bench');
const inst = config.instances.find((i) => i.name === INSTANCE);
if (!inst || inst.flavour !== 'mysql' || !inst.replication)
  throw new Error(`${INSTANCE} must be a MySQL instance with a replication account`);
const replicated = { ...inst, replication: inst.replication };
const CHUNK_ROWS = env('BENCH_CHUNK_ROWS', config.cdc.snapshot.chunkRows);
const TABLES_PER_INSTANCE = env('BENCH_TABLES_PER_INSTANCE', config.cdc.snapshot.tablesPerInstance);
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
/** The bench tables: the shards of one logical table that INSTANCE owns, named as the cluster names them. */
const LOGICAL = `snapbench_${process.pid % 100000}`;
const SHARDS = topology.map.shardsOf(INSTANCE);
const TABLES = SHARDS.length;
const physical = (shard: number) => ({ database: topology.names.database(shard), table: topology.names.table(LOGICAL, shard) });
const tableNames = SHARDS.map((s) => `${physical(s).database}.${physical(s).table}`);

const CREATE_TABLE =
  `(id BIGINT NOT NULL PRIMARY KEY, uid BIGINT NOT NULL, name VARCHAR(64) NOT NULL, ` +
  `email VARCHAR(191) NOT NULL, balance DECIMAL(12,2) NOT NULL, status TINYINT NOT NULL, created_at DATETIME(6) NOT NULL, ` +
  `updated_at TIMESTAMP(6) NULL, bio TEXT NULL) DEFAULT CHARSET = utf8mb4`;

/** Runs `fn` with an admin connection to every instance of the cluster, in turn. */
async function onEveryInstance(fn: (c: mysql.Connection, instance: string) => Promise<void>): Promise<void> {
  for (const i of config.instances) {
    const c = await mysql.createConnection({ host: i.host, port: i.port, ...adminCreds });
    try {
      await fn(c, i.name);
    } finally {
      await c.end();
    }
  }
}

/**
 * The logical table `LOGICAL` on every shard of the cluster (as a migration would create it), its
 * rows in the INSTANCE's shards only: the other instances' shards are empty, so a worker that
 * captures the table snapshots all of them, as it would in a real fleet.
 */
async function createData(): Promise<void> {
  const t0 = performance.now();
  await onEveryInstance(async (c, instance) => {
    if (instance === INSTANCE) return;
    const ts = topology.map.shardsOf(instance).map(physical);
    for (const db of new Set(ts.map((t) => t.database))) await c.query(`CREATE DATABASE IF NOT EXISTS \`${db}\``);
    for (const t of ts) await c.query(`CREATE TABLE \`${t.database}\`.\`${t.table}\` ${CREATE_TABLE}`);
  });
  const per = Math.floor(ROWS / TABLES);
  const extra = ROWS % TABLES;
  const fillers = await Promise.all(
    [0, 1, 2].map(async () => {
      const c = await mysql.createConnection({ host: inst!.host, port: inst!.port, ...adminCreds });
      await c.query(`SET SESSION cte_max_recursion_depth = ${Math.max(1000, per + 1)}`);
      return c;
    }),
  );
  for (const db of new Set(SHARDS.map((s) => physical(s).database))) await fillers[0]!.query(`CREATE DATABASE IF NOT EXISTS \`${db}\``);
  let next = 0;
  await Promise.all(
    fillers.map(async (c) => {
      for (let i = next++; i < TABLES; i = next++) {
        const t = tableNames[i];
        const n = per + (i < extra ? 1 : 0);
        await c.query(`CREATE TABLE ${t} ${CREATE_TABLE}`);
        if (n === 0) continue;
        await c.query(
          `INSERT INTO ${t} WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ${n}) ` +
            `SELECT n * 256 + ${i}, 10000000000 + n * 7919 + ${i}, CONCAT('User ', n, ' of ', ${i}), CONCAT('user', n, '.', ${i}, '@example.com'), ` +
            `(n * 37 % 1000000) / 100, n % 4, TIMESTAMP('2024-01-01 00:00:00') + INTERVAL n * 61 SECOND + INTERVAL (n * 7919 % 1000000) MICROSECOND, ` +
            `IF(n % 3 = 0, NULL, TIMESTAMP('2025-01-01 00:00:00') + INTERVAL n SECOND), ` +
            `IF(n % 2 = 0, NULL, CONCAT('Bio of user ', n, ': ', REPEAT('lorem ipsum ', 1 + n % 8))) FROM seq`,
        );
      }
    }),
  );
  await Promise.all(fillers.map((c) => c.end()));
  const inst0 = await mysql.createConnection({ host: inst!.host, port: inst!.port, ...adminCreds });
  await inst0.query(`ANALYZE TABLE ${tableNames.join(', ')}`).finally(() => inst0.end());
  log(
    `data: ${ROWS} rows in the ${TABLES} shards of ${LOGICAL} on ${INSTANCE} (its other ${topology.shardCount - TABLES} shards empty) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

/** Drops the bench's logical table from every shard. */
async function dropData(): Promise<void> {
  await onEveryInstance(async (c, instance) => {
    const ts = topology.map.shardsOf(instance).map(physical);
    await c.query(`DROP TABLE IF EXISTS ${ts.map((t) => `\`${t.database}\`.\`${t.table}\``).join(', ')}`);
  });
}

const adminCreds = { user: process.env['BENCH_ADMIN_USER'] ?? 'root', password: process.env['BENCH_ADMIN_PASSWORD'] ?? '' };

const NO_LOG = {} as EventLog;
const feedLogger = pino({ level: 'warn' }, pino.destination(2));

/** One snapshot of the bench tables through the real SnapshotFeed into a no-op sink. */
async function shardlineRound(): Promise<SideRun & { bytes: number; chunks: number; sessions: number }> {
  const tables = SHARDS.map((shard): SnapshotTable => ({ ...physical(shard), logical: LOGICAL, shard }));
  const store = new SnapshotStore(NO_LOG, `${DB}._checkpoints`, () => 0);
  let woken = false;
  let wakeUp: (() => void) | null = null;
  const wake = () => {
    woken = true;
    wakeUp?.();
  };
  let sessions = 0;
  const plan = {
    instance: INSTANCE,
    kind: 'initial' as const,
    tables: tables.map((t) => `${t.database}.${t.table}`),
    startedAtMs: Date.now(),
  };
  const feed = new SnapshotFeed({
    instance: INSTANCE,
    flavour: 'mysql',
    state: { plan, progress: new Map() },
    tables: new Map(tables.map((t) => [`${t.database}.${t.table}`, t])),
    store,
    openSession: () => {
      sessions++;
      return snapshotSession(replicated);
    },
    topicPrefix: `${DB}.`,
    clock: systemClock,
    logger: feedLogger,
    wake,
    chunkRows: CHUNK_ROWS,
    tablesPerInstance: TABLES_PER_INSTANCE,
    maxRowsPerSecond: null,
  });
  const at = { file: 'binlog.000001', pos: 4, serverId: inst!.serverId ?? 1, serverUuid: null };
  const feedCommitted = feed as unknown as { committed?: () => void };
  let rows = 0;
  let bytes = 0;
  let chunks = 0;
  const host = hostSpan();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  feed.start();
  try {
    while (!feed.finished) {
      if (!woken && !feed.pending) await new Promise<void>((resolve) => ((wakeUp = resolve), setTimeout(resolve, 50)));
      wakeUp = null;
      woken = false;
      const messages = feed.take(at, true);
      for (const m of messages) {
        if (m.topic === store.topic) {
          if (m.value !== null) chunks++;
          continue;
        }
        rows++;
        bytes += (m.value as string).length;
      }
      feedCommitted.committed?.();
    }
  } finally {
    await feed.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    rows,
    seconds: round(seconds, 2),
    rows_per_s: Math.round(rows / seconds),
    cpu_us_per_row: round((cpu.user + cpu.system) / Math.max(1, rows), 1),
    ...host(),
    bytes,
    chunks,
    sessions,
  };
}

interface DebeziumTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  publicKeyFile: string;
}

async function debeziumRound(
  target: DebeziumTarget,
): Promise<SideRun & { startup_s: number; peak_rss_mb: number; steady_rows_per_s: number }> {
  const host = hostSpan();
  const r: DebeziumRun = await runDebeziumSnapshot({ ...target, tables: tableNames, timeoutS: 900 });
  return debeziumSideRun(r, host());
}

const latencySummary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return {
    samples: s.length,
    p50_ms: round(quantile(s, 0.5), 2),
    p90_ms: round(quantile(s, 0.9), 2),
    p99_ms: round(quantile(s, 0.99), 2),
    p999_ms: round(quantile(s, 0.999), 2),
  };
};

/** Point SELECTs through the router on users shards of shard-0, from a process of its own; latencies in ms. */
class RouterProbe {
  private readonly child: ChildProcess;
  private waiting: ((ms: number[]) => void) | null = null;
  errors = 0;

  get pid(): number {
    return this.child.pid!;
  }

  private constructor(child: ChildProcess) {
    this.child = child;
    child.on('message', (m: { type: string; ms?: number[]; errors?: number }) => {
      if (m.type !== 'samples') return;
      this.errors = m.errors ?? 0;
      const w = this.waiting;
      this.waiting = null;
      w?.(m.ms ?? []);
    });
  }

  static async start(): Promise<RouterProbe> {
    const child = fork(path.join(import.meta.dirname, 'router-probe-child.js'), [INSTANCE], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`the router probe exited with ${code}`)));
    });
    return new RouterProbe(child);
  }

  /** The latencies (ms) since the last call. */
  async drain(): Promise<number[]> {
    const got = new Promise<number[]>((resolve) => (this.waiting = resolve));
    this.child.send({ type: 'drain' });
    return got;
  }

  /** p50/p99 of the samples since the last call. */
  async take(): Promise<{ samples: number; p50_ms: number; p99_ms: number }> {
    return latencySummary(await this.drain());
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send({ type: 'stop' });
    await Promise.race([exited, sleep(10_000)]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** The worker's config: the bundled cluster, its own topics, only the bench tables captured, snapshot mode initial. */
function writeWorkerConfig(names: ReturnType<typeof e2eNames>): string {
  const bundled = readFileSync(bundledClusterConfig, 'utf8').replaceAll(
    '../.shardline',
    path.join(path.dirname(bundledClusterConfig), '..', '.shardline'),
  );
  const base = bundled.replace(/^(sharding:\n(?:[ #].*\n|\n)*? {2}tables:\n)/m, `$1    ${LOGICAL}: { shardKey: uid }\n`);
  if (base === bundled) throw new Error(`no sharding.tables in ${bundledClusterConfig} to add ${LOGICAL} to`);
  const exclude = [...Object.keys(config.sharding.tables), ...config.sharding.broadcast];
  const tuning = [
    process.env['BENCH_CHUNK_ROWS'] ? `chunkRows: ${CHUNK_ROWS}` : null,
    process.env['BENCH_TABLES_PER_INSTANCE'] ? `tablesPerInstance: ${TABLES_PER_INSTANCE}` : null,
    process.env['BENCH_MAX_ROWS_PER_S'] ? `maxRowsPerSecond: ${env('BENCH_MAX_ROWS_PER_S', 0) || 'null'}` : null,
  ].filter((x) => x !== null);
  const cdc = `
cdc:
  topicPrefix: "${names.topicPrefix}"
  checkpointTopic: "${names.name}._checkpoints"
  signalTopic: "${names.name}._signals"
  deadLetterTopic: "${names.name}._dead_letters"
  assignmentTopic: "${names.name}._instances"
  groupPrefix: "${names.groupPrefix}"
  partitions: ${PARTITIONS}
  shutdownTimeoutS: 20
  tables:
    include: ["${LOGICAL}"]
    exclude: [${exclude.map((t) => `"${t}"`).join(', ')}]
  snapshot: { mode: initial${tuning.length ? `, ${tuning.join(', ')}` : ''} }${process.env['BENCH_COMPRESSION'] ? `\n  compression: ${process.env['BENCH_COMPRESSION']}` : ''}
`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-bench-snapshot-'));
  const file = path.join(dir, 'cluster.yaml');
  writeFileSync(file, `${base}\n${cdc}`);
  return file;
}

type CpuSnapshot = {
  worker: number;
  bench: number;
  probe: number;
  services: Record<string, number>;
  host: { busy: number; total: number };
};
const SERVICES = servicePids(process.env['SHARDLINE_STATE_DIR'] || path.join(root, '.shardline'));
const cpuSnapshot = (worker: number, probe: number): CpuSnapshot => {
  const u = process.cpuUsage();
  return {
    worker: procCpuSeconds(worker),
    probe: procCpuSeconds(probe),
    bench: (u.user + u.system) / 1e6,
    services: Object.fromEntries(Object.entries(SERVICES).map(([n, p]) => [n, procCpuSeconds(p)])),
    host: hostCpu(),
  };
};
/** Cores used per process between two snapshots: where the CPU went while the worker snapshotted. */
const coresBetween = (a: CpuSnapshot, b: CpuSnapshot, seconds: number): Record<string, number> => {
  const out: Record<string, number> = {
    worker: round((b.worker - a.worker) / seconds, 2),
    bench: round((b.bench - a.bench) / seconds, 2),
    router_probe: round((b.probe - a.probe) / seconds, 2),
  };
  for (const [n, v] of Object.entries(b.services)) {
    const c = round((v - (a.services[n] ?? v)) / seconds, 2);
    if (c >= 0.01) out[n] = c;
  }
  out['host_busy'] = round(((b.host.busy - a.host.busy) / (b.host.total - a.host.total)) * os.availableParallelism(), 2);
  return out;
};

/** Waits (≤ 30 s) until the source's mysqld is quiet again after the data were written (flushing, purge). */
async function settle(): Promise<void> {
  const pid = SERVICES[INSTANCE];
  if (!pid) return;
  const t0 = performance.now();
  for (let last = procCpuSeconds(pid); performance.now() - t0 < 30_000;) {
    await sleep(1000);
    const now = procCpuSeconds(pid);
    if (now - last < 0.06) break;
    last = now;
  }
  log(`source settled after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** The full path: a worker process snapshots the bench tables into Kafka; the router is probed before and during. */
async function toKafka(): Promise<Record<string, unknown>> {
  const names = e2eNames(DB);
  const configPath = writeWorkerConfig(names);
  execFileSync(process.execPath, [path.join(root, 'dist/cli/main.js'), 'migrate'], { stdio: 'ignore' });
  await settle();
  const probe = await RouterProbe.start();
  let child: ChildProcess | null = null;
  const logFile = path.join(path.dirname(configPath), 'worker.log');
  try {
    await sleep(1000);
    await probe.take();
    await sleep(ROUTER_S * 1000);
    const beforeMs = await probe.drain();
    const quiet = latencySummary(beforeMs);
    log(`router without a snapshot: p50 ${quiet.p50_ms} ms, p99 ${quiet.p99_ms} ms (${quiet.samples} point SELECTs)`);
    if (quiet.samples < 100 || probe.errors > 0)
      throw new Error(`the router probe failed (${quiet.samples} samples, ${probe.errors} errors)`);
    const fd = openSync(logFile, 'a');
    const tSpawn = performance.now();
    const nice = env('BENCH_WORKER_NICE', 0);
    child = spawn(
      nice ? 'nice' : process.execPath,
      [
        ...(nice ? ['-n', String(nice), process.execPath] : []),
        ...(WORKER_PROF ? ['--cpu-prof', `--cpu-prof-dir=${WORKER_PROF}`] : []),
        path.join(root, 'dist/cli/main.js'),
        'cdc',
        '--config',
        configPath,
        '--role',
        'reader',
        '--http-port',
        String(HTTP_PORT),
      ],
      {
        cwd: root,
        stdio: ['ignore', fd, fd],
        env: { ...process.env, SHARDLINE_LOG_LEVEL: 'info' },
      },
    );
    const pid = child.pid!;
    let peakRss = 0;
    const sampler = setInterval(() => {
      const m = procMemory(pid);
      if (m) peakRss = Math.max(peakRss, m.rssMb, m.hwmMb);
    }, 250);
    let tStart = 0;
    let tEnd = 0;
    let rows = 0;
    let cpu0: CpuSnapshot | null = null;
    let cpu1: CpuSnapshot | null = null;
    // Side by side (ABAB): the worker runs PAUSE_MS, then is stopped (SIGSTOP) PAUSE_MS, and so on;
    // the router's samples of each window go to its side, so both sides see the same host.
    const running: number[] = [];
    const paused: number[] = [];
    let pausedMs = 0;
    let done = false;
    let alternation: Promise<void> = Promise.resolve();
    const alternate = async () => {
      while (!done) {
        await sleep(PAUSE_MS);
        if (done) break;
        for (const ms of await probe.drain()) running.push(ms);
        const t = performance.now();
        child!.kill('SIGSTOP');
        await sleep(PAUSE_MS);
        for (const ms of await probe.drain()) paused.push(ms);
        child!.kill('SIGCONT');
        pausedMs += performance.now() - t;
      }
    };
    const deadline = performance.now() + 900_000;
    let lastLog = 0;
    try {
      while (performance.now() < deadline) {
        if (child.exitCode !== null)
          throw new Error(`the worker exited with ${child.exitCode}; log ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
        let m: Map<string, number>;
        try {
          m = parseMetrics(await (await fetch(`http://127.0.0.1:${HTTP_PORT}/metrics`)).text());
        } catch {
          await sleep(SCRAPE_MS);
          continue;
        }
        const snapshotting = metric(m, 'shardline_snapshot_running', { instance: INSTANCE });
        rows = metric(m, 'shardline_snapshot_rows_total', { instance: INSTANCE });
        const now = performance.now();
        if (!tStart && (snapshotting > 0 || rows > 0)) {
          tStart = now;
          cpu0 = cpuSnapshot(pid, probe.pid);
          await probe.take();
          if (PAUSE_MS > 0) alternation = alternate();
          log(`worker: snapshot running ${((now - tSpawn) / 1000).toFixed(1)} s after the spawn`);
        }
        if (tStart && snapshotting === 0 && rows >= ROWS) {
          tEnd = now;
          cpu1 = cpuSnapshot(pid, probe.pid);
          break;
        }
        if (tStart && now - lastLog > 5000) {
          lastLog = now;
          log(`worker: ${rows} rows published, RSS ${procMemory(pid)?.rssMb.toFixed(0)} MB`);
        }
        await sleep(SCRAPE_MS);
      }
    } finally {
      done = true;
      await alternation;
      clearInterval(sampler);
    }
    if (!tEnd) throw new Error(`the worker's snapshot did not finish (${rows} rows published); log ${logFile}`);
    for (const ms of await probe.drain()) running.push(ms);
    const during = latencySummary(running);
    // After: the worker alive and streaming an idle source, its snapshot done.
    await sleep(2000);
    await probe.drain();
    // Observed as the snapshot was: the worker's /metrics scraped at the same cadence.
    const scrapes: number[] = [];
    for (const until = performance.now() + ROUTER_S * 1000; performance.now() < until; await sleep(SCRAPE_MS)) {
      const t = performance.now();
      parseMetrics(await (await fetch(`http://127.0.0.1:${HTTP_PORT}/metrics`)).text());
      scrapes.push(performance.now() - t);
    }
    log(`a /metrics scrape took ${round(median(scrapes), 2)} ms (median of ${scrapes.length})`);
    const afterMs = await probe.drain();
    const after = latencySummary(afterMs);
    const without = PAUSE_MS > 0 ? latencySummary(paused) : latencySummary([...beforeMs, ...afterMs]);
    const seconds = (tEnd - tStart - pausedMs) / 1000;
    const result = {
      rows_per_s_to_kafka: Math.round(rows / seconds),
      rows,
      seconds: round(seconds, 2),
      spawn_to_done_s: round((tEnd - tSpawn) / 1000, 2),
      worker_rss_mb: round(peakRss, 1),
      router_quiet_before: quiet,
      router_quiet_after: after,
      router_without_snapshot: without,
      router_during_snapshot: during,
      router_p99_ratio_during_snapshot: round(during.p99_ms / without.p99_ms, 2),
      router_p99_ratio_vs_before: round(during.p99_ms / quiet.p99_ms, 2),
      alternation_ms: PAUSE_MS,
      router_errors: probe.errors,
      cores_during_snapshot: coresBetween(cpu0!, cpu1!, (tEnd - tStart) / 1000),
      cpu_us_per_row: {
        worker: round(((cpu1!.worker - cpu0!.worker) * 1e6) / rows, 1),
        kafka: round((((cpu1!.services['kafka'] ?? 0) - (cpu0!.services['kafka'] ?? 0)) * 1e6) / rows, 1),
        [INSTANCE]: round((((cpu1!.services[INSTANCE] ?? 0) - (cpu0!.services[INSTANCE] ?? 0)) * 1e6) / rows, 1),
      },
    };
    log(
      `cores during the snapshot (wall time, stopped windows included): ${JSON.stringify(result.cores_during_snapshot)}; CPU µs per row ${JSON.stringify(result.cpu_us_per_row)}`,
    );
    log(
      `worker: ${rows} rows into Kafka in ${result.seconds} s = ${result.rows_per_s_to_kafka} rows/s; peak RSS ${result.worker_rss_mb} MB; router during the snapshot ${JSON.stringify(during)}, without ${JSON.stringify(without)} → p99 ratio ${result.router_p99_ratio_during_snapshot} (vs before: ${result.router_p99_ratio_vs_before})`,
    );
    return result;
  } finally {
    await probe.stop();
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(30_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await dropKafkaState(config, names, (m) => log(m.length > 300 ? `${m.slice(0, 300)}…` : m)).catch((err: Error) =>
      log(`clean-up: kafka failed: ${err.message}`),
    );
    rmSync(path.dirname(configPath), { recursive: true, force: true });
    if (WORKER_PROF) {
      const profile = topSelfTime(WORKER_PROF, 25);
      if (profile) {
        log(`worker CPU profile ${profile.file} (${profile.totalMs} ms); by area ${JSON.stringify(selfTimeByArea(WORKER_PROF))}`);
        for (const row of profile.rows) log(`  ${String(row.pct).padStart(5)}%  ${String(row.selfMs).padStart(7)} ms  ${row.fn}`);
      }
    }
  }
}

await onCluster(async () => {
  const admin = await mysql.createConnection({ host: inst.host, port: inst.port, ...adminCreds });
  const dbzUser = `shardline_dbz_${process.pid % 100000}`;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'shardline-bench-snapshot-dbz-'));
  const profDir = path.join(tmp, 'prof');
  try {
    const runDebezium = SIDES !== 'shardline';
    const runShardline = SIDES !== 'debezium';
    let target: DebeziumTarget | null = null;
    if (runDebezium) {
      const build = buildDebezium();
      log(`debezium: ${build.built ? 'built' : 'cached build'}`);
      const creds = await ensureDebeziumUser(admin, dbzUser);
      target = {
        host: inst.host,
        port: inst.port,
        ...creds,
        publicKeyFile: await writeServerPublicKey(admin, path.join(tmp, 'server-key.pem')),
      };
    }
    await createData();
    log(`shardline: chunkRows ${CHUNK_ROWS}, tablesPerInstance ${TABLES_PER_INSTANCE}; rounds ${ROUNDS} (${SIDES})`);
    const profiler = CPU_PROF && runShardline ? new Session() : null;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      mkdirSync(profDir, { recursive: true });
    }
    const shardline: Awaited<ReturnType<typeof shardlineRound>>[] = [];
    const debezium: Awaited<ReturnType<typeof debeziumRound>>[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      if (runShardline) {
        if (profiler) await profiler.post('Profiler.start');
        const s = await shardlineRound();
        if (profiler) {
          const { profile } = await profiler.post('Profiler.stop');
          writeFileSync(path.join(profDir, `round-${r}.cpuprofile`), JSON.stringify(profile));
        }
        if (s.rows !== ROWS) throw new Error(`shardline read ${s.rows} rows, expected ${ROWS}`);
        shardline.push(s);
        log(
          `round ${r} shardline: ${s.rows_per_s} rows/s (${s.seconds} s, ${s.chunks} chunks, ${s.cpu_us_per_row} µs CPU/row, host ${s.host_busy_pct}% busy, load ${s.loadavg_1m})`,
        );
      }
      if (target) {
        const d = await debeziumRound(target);
        if (d.rows !== ROWS) throw new Error(`Debezium delivered ${d.rows} rows, expected ${ROWS}`);
        debezium.push(d);
        log(
          `round ${r} debezium: ${d.rows_per_s} rows/s (${d.seconds} s, startup ${d.startup_s} s, ${d.cpu_us_per_row} µs JVM CPU/row, host ${d.host_busy_pct}% busy, load ${d.loadavg_1m})`,
        );
      }
    }
    let profile: ReturnType<typeof topSelfTime> = null;
    if (profiler) {
      profile = topSelfTime(profDir, 20);
      if (profile) {
        log(`shardline CPU profile ${profile.file} (${profile.totalMs} ms sampled); by area ${JSON.stringify(selfTimeByArea(profDir))}`);
        for (const row of profile.rows) log(`  ${String(row.pct).padStart(5)}%  ${String(row.selfMs).padStart(7)} ms  ${row.fn}`);
      }
      profiler.disconnect();
    }
    const kafka = KAFKA && runShardline ? await toKafka() : null;
    const sRate = median(shardline.map((s) => s.rows_per_s));
    const dRate = median(debezium.map((d) => d.rows_per_s));
    const result = {
      rows_per_s: shardline.length ? Math.round(sRate) : null,
      debezium_rows_per_s: debezium.length ? Math.round(dRate) : null,
      ratio_vs_debezium: shardline.length && debezium.length ? round(sRate / dRate, 2) : null,
      rows_per_s_to_kafka: kafka?.['rows_per_s_to_kafka'] ?? null,
      router_p99_ratio_during_snapshot: kafka?.['router_p99_ratio_during_snapshot'] ?? null,
      worker_rss_mb: kafka?.['worker_rss_mb'] ?? null,
      targets: { ratio_vs_debezium: 2.0, router_p99_ratio_during_snapshot: 1.5 },
      rows: ROWS,
      tables: TABLES,
      rounds: ROUNDS,
      chunk_rows: CHUNK_ROWS,
      max_rows_per_s: process.env['BENCH_MAX_ROWS_PER_S'] ? env('BENCH_MAX_ROWS_PER_S', 0) || null : config.cdc.snapshot.maxRowsPerSecond,
      tables_per_instance: TABLES_PER_INSTANCE,
      shardline: {
        rows_per_s: shardline.length ? { median: Math.round(sRate), ...spread(shardline.map((s) => s.rows_per_s)) } : null,
        cpu_us_per_row_median: shardline.length ? median(shardline.map((s) => s.cpu_us_per_row)) : null,
        runs: shardline,
      },
      debezium: {
        rows_per_s: debezium.length ? { median: Math.round(dRate), ...spread(debezium.map((d) => d.rows_per_s)) } : null,
        cpu_us_per_row_median: debezium.length ? median(debezium.map((d) => d.cpu_us_per_row)) : null,
        runs: debezium,
      },
      to_kafka: kafka,
      cpu_profile: profile ? { file: profile.file, top: profile.rows.slice(0, 12) } : null,
      cpus: os.availableParallelism(),
      loadavg_1m_at_end: round(os.loadavg()[0] ?? 0, 2),
    };
    console.log(JSON.stringify(result));
  } finally {
    if (process.env['BENCH_KEEP'] === '1') log(`BENCH_KEEP=1: leaving ${LOGICAL}`);
    else await dropData().catch((err: Error) => log(`clean-up: ${err.message}`));
    await admin.query(`DROP USER IF EXISTS '${dbzUser}'@'%'`).catch(() => undefined);
    await admin.end();
    if (!CPU_PROF) rmSync(tmp, { recursive: true, force: true });
  }
});
