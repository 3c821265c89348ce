/**
 * npm run bench:e2e — commit → searchable through the whole CDC pipeline on the local cluster:
 * router INSERT → MySQL/MariaDB binlog → `shardline cdc` (a child process with a config of its
 * own) → Kafka (transactional) → Elasticsearch sink (and the archive sink, which runs alongside
 * and shares the CPU). Every service shares the host's cores with the bench.
 *
 * - Latency at 1k and 5k rows/s: open-loop load (a multi-row INSERT every TICK_MS, whether or not
 *   the earlier ones returned), rows of each batch spread over 4 shards (one per instance, so each
 *   shard gets one multi-row statement); one row per batch is sampled, its commit time is when the
 *   router's INSERT resolved, and it is "searchable" when an `ids` search on the alias (which hides
 *   tombstones, and sees only refreshed segments) returns it: a poller asks for every pending
 *   sample every POLL_MS and takes the arrival of the answer as the time (an upper bound, within
 *   POLL_MS + one search). ES's refresh interval (cdc.elasticsearch.refreshInterval, 300 ms by default) is part of that.
 * - Sustained: CONCURRENCY writers insert as fast as they can for SUSTAINED_S, pausing while more
 *   than BACKLOG_CAP written rows are not searchable yet (unbounded, the writers take the cores the
 *   pipeline needs and the figure measures the drain after the burst); rows/s = rows written /
 *   (first commit → `_count` on the alias reaches them all): the pipeline has to keep up, a
 *   backlog only counts once it is searchable.
 * - worker_rss_mb: the worker's peak RSS (max of VmHWM and 250 ms VmRSS samples).
 *
 * - Idle: the source quiet for BENCH_IDLE_S (30) after the warm-up, the lag sampler paused (the worker is
 *   scraped at the start and end only): idle_worker_cores. CPU per
 *   published row of the worker, Kafka and Elasticsearch in every phase (cpu_us_per_row), and
 *   Elasticsearch's own account of its threads' time per second (es_work: indexing, refresh,
 *   merge, and the bench's searches).
 *
 * Environment: BENCH_RATE_S (25 s per rate phase), BENCH_SUSTAINED_S (30), BENCH_CONCURRENCY (8),
 * BENCH_SUSTAINED_BATCH (400 rows per INSERT), BENCH_BACKLOG_CAP (30000), BENCH_PARTITIONS (4, cdc.partitions),
 * BENCH_BATCH_MAX_MS (20, cdc.batch.maxMs), BENCH_BATCH_MAX_EVENTS (5000), BENCH_BULK_MAX_DOCS (2000,
 * cdc.elasticsearch.bulkMaxDocs), BENCH_COMPRESSION (cdc.compression; unset: the default), BENCH_REFRESH_INTERVAL (unset: the sink's 300ms; else set on the
 * bench index after the sink made it, an experiment), BENCH_CPU_PROF=1 (worker under --cpu-prof,
 * top self-time printed), BENCH_SPLIT_ROLES=1 (the worker as three processes, `--role reader`, `elasticsearch`,
 * `archive`: CPU per role in worker_cores_by_role and cpu_us_per_row.worker_<role>), BENCH_WORKER_NODE_ARGS (extra node flags of the worker, space-separated), BENCH_REPLICAS (stopped, the default: STOP REPLICA on every replica for the run, START REPLICA after it — with the replicas applying, the bench's own writer missed its 1k and 5k rates on this host; see replication-pause.ts, a run stopped by SIGINT or SIGTERM starts them again, a SIGKILLed one leaves them stopped until `shardline dev up` heals them; applying: leave them running), BENCH_KEEP=1 (skip the clean-up). Progress on stderr; last stdout line:
 * one JSON object. Cleans up its topics, groups, indices, templates, archive database and rows.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRouter, loadClusterConfig, type Router } from 'shardline';
import { ALL_SECTIONS, requireSections } from 'shardline/config';
import { onCluster } from './cluster.js';
import { pauseReplication, type PausedReplication } from './replication-pause.js';
import { dropArchiveDatabase, dropEsState, dropKafkaState, e2eNames, writeE2eConfig, type E2eTuning } from './e2e-config.js';
import kafkajs from 'kafkajs';
import {
  counterDelta,
  esWork,
  esWorkDelta,
  histogramDelta,
  hostCpu,
  parseMetrics,
  procCpuSeconds,
  procMemory,
  selfTimeByArea,
  servicePids,
  topSelfTime,
  type Scrape,
} from './e2e-probe.js';

const env = (key: string, fallback: number) => Number(process.env[key] ?? fallback);
const RATE_S = env('BENCH_RATE_S', 25);
const IDLE_S = env('BENCH_IDLE_S', 30);
const SUSTAINED_S = env('BENCH_SUSTAINED_S', 30);
const CONCURRENCY = env('BENCH_CONCURRENCY', 8);
const SUSTAINED_BATCH = env('BENCH_SUSTAINED_BATCH', 400);
/** Sustained writers pause while more than this many written rows are not yet searchable. */
const BACKLOG_CAP = env('BENCH_BACKLOG_CAP', 30_000);
const TICK_MS = 10;
const POLL_MS = 25;
const SHARDS_PER_BATCH = 4;
const HTTP_PORT = 19_700 + (process.pid % 200);
const REFRESH_INTERVAL = process.env['BENCH_REFRESH_INTERVAL'];
const CPU_PROF = process.env['BENCH_CPU_PROF'] === '1';
const WORKER_NODE_ARGS = (process.env['BENCH_WORKER_NODE_ARGS'] ?? '').split(/\s+/).filter(Boolean);
const SPLIT_ROLES = process.env['BENCH_SPLIT_ROLES'] === '1';
const REPLICAS = process.env['BENCH_REPLICAS'] ?? 'stopped';
if (REPLICAS !== 'applying' && REPLICAS !== 'stopped')
  throw new Error(`BENCH_REPLICAS must be applying or stopped (got ${JSON.stringify(REPLICAS)})`);
const tuning: E2eTuning = {
  partitions: env('BENCH_PARTITIONS', 4),
  batchMaxMs: env('BENCH_BATCH_MAX_MS', 20),
  batchMaxEvents: env('BENCH_BATCH_MAX_EVENTS', 5000),
  bulkMaxDocs: env('BENCH_BULK_MAX_DOCS', 2000),
  compression: process.env['BENCH_COMPRESSION'] ?? null,
};
/** The bench's UIDs: [BASE, BASE + 10^7), away from the tests' (7e9…, 8.1e9 + pid block). */
const BASE = 20_000_000_000n + BigInt(process.pid % 1000) * 10_000_000n;

const log = (msg: string) => process.stderr.write(`[bench:e2e] ${msg}\n`);
const round = (x: number, digits = 1) => Number(x.toFixed(digits));
const quantile = (sorted: number[], q: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! : NaN;

const names = e2eNames(`bench_e2e_${process.pid}`);
const configPath = writeE2eConfig(names, tuning);
const config = requireSections(loadClusterConfig(configPath), ALL_SECTIONS, 'the e2e bench');
const ES = config.elasticsearch.node;
const ALIAS = `${names.indexPrefix}users`;
const root = path.resolve(import.meta.dirname, '..', '..');

/** UIDs of the bench by shard, found by scanning up from BASE (each UID used once). */
class UidSource {
  private next = BASE;
  private readonly queues: bigint[][];
  private readonly heads: number[];
  constructor(
    private readonly shardOf: (u: bigint) => number,
    shards: number,
  ) {
    this.queues = Array.from({ length: shards }, () => []);
    this.heads = new Array<number>(shards).fill(0);
  }
  get highest(): bigint {
    return this.next - 1n;
  }
  take(shard: number, n: number): bigint[] {
    const q = this.queues[shard]!;
    while (q.length - this.heads[shard]! < n) {
      const u = this.next++;
      this.queues[this.shardOf(u)]!.push(u);
    }
    const out = q.slice(this.heads[shard], this.heads[shard]! + n);
    this.heads[shard]! += n;
    if (this.heads[shard]! > 4096) {
      q.splice(0, this.heads[shard]);
      this.heads[shard] = 0;
    }
    return out;
  }
}

/** Multi-row INSERTs of the users table, each batch spread over one shard per instance. */
class Load {
  private cursor = 0;
  private readonly sqlByRows = new Map<number, string>();
  constructor(
    private readonly router: Router,
    private readonly uids: UidSource,
  ) {}

  private sql(rows: number): string {
    let s = this.sqlByRows.get(rows);
    if (!s)
      this.sqlByRows.set(
        rows,
        (s = `INSERT INTO users (uid, name, email, balance) VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?)').join(', ')}`),
      );
    return s;
  }

  /** Inserts `rows` rows; resolves with the UIDs and the time the INSERT resolved (the commit, seen from the client). */
  async batch(rows: number): Promise<{ uids: bigint[]; committedAt: number }> {
    const shardCount = this.router.topology.shardCount;
    const groups = Math.min(SHARDS_PER_BATCH, rows);
    const first = this.cursor++ % (shardCount / SHARDS_PER_BATCH);
    const uids: bigint[] = [];
    for (let g = 0; g < groups; g++) {
      const n = Math.floor(rows / groups) + (g < rows % groups ? 1 : 0);
      uids.push(...this.uids.take(first + g * (shardCount / SHARDS_PER_BATCH), n));
    }
    const params: (bigint | string)[] = [];
    for (const u of uids) params.push(u, `bench ${u}`, `u${u}@bench.example`, '12.34');
    await this.router.query(this.sql(rows), params);
    return { uids, committedAt: performance.now() };
  }
}

/** Polls an `ids` search for the pending sampled UIDs; records commit → searchable per sample. */
class SearchablePoller {
  private readonly pending = new Map<string, number>();
  private readonly latencies: number[] = [];
  private running = true;
  private paused = false;
  private loop: Promise<void>;
  polls = 0;
  pollMs: number[] = [];

  constructor() {
    this.loop = this.run();
  }

  add(uid: bigint, committedAt: number): void {
    this.pending.set(uid.toString(), committedAt);
  }

  get waiting(): number {
    return this.pending.size;
  }

  /** The latencies recorded since the last call. */
  drain(): number[] {
    return this.latencies.splice(0);
  }

  private async run(): Promise<void> {
    while (this.running) {
      const started = performance.now();
      if (this.pending.size) {
        const ids = [...this.pending.keys()].slice(0, 5000);
        try {
          const res = await fetch(`${ES}/${encodeURIComponent(ALIAS)}/_search?filter_path=hits.hits._id`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ size: ids.length, _source: false, track_total_hits: false, query: { ids: { values: ids } } }),
          });
          const body = (await res.json()) as { hits?: { hits?: { _id: string }[] } };
          const at = performance.now();
          this.polls++;
          this.pollMs.push(at - started);
          for (const h of body.hits?.hits ?? []) {
            const committed = this.pending.get(h._id);
            if (committed === undefined) continue;
            this.pending.delete(h._id);
            this.latencies.push(at - committed);
          }
        } catch (err) {
          log(`poll failed: ${(err as Error).message}`);
        }
      }
      const wait = POLL_MS - (performance.now() - started);
      if (wait > 0) await sleep(wait);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

async function esCount(): Promise<number> {
  const res = await fetch(`${ES}/${encodeURIComponent(ALIAS)}/_count`);
  if (res.status === 404) return 0;
  return ((await res.json()) as { count: number }).count;
}

/** The roles of the worker's processes: one process with every role, or (BENCH_SPLIT_ROLES=1) one process per role. */
const ROLE_SETS: (string | null)[] = SPLIT_ROLES ? ['reader', 'elasticsearch', 'archive'] : [null];

/** The worker: its process (or one per role), started, watched (RSS, CPU), scraped, stopped. */
class Worker {
  readonly children: ChildProcess[];
  readonly logFile: string;
  readonly profDir: string;
  peakRssMb = 0;
  private readonly sampler: NodeJS.Timeout;

  constructor() {
    const dir = path.dirname(configPath);
    this.logFile = path.join(dir, 'worker.log');
    this.profDir = mkdtempSync(path.join(os.tmpdir(), 'shardline-bench-e2e-prof-'));
    const fd = openSync(this.logFile, 'a');
    const nodeArgs = [...WORKER_NODE_ARGS, ...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${this.profDir}`] : [])];
    this.children = ROLE_SETS.map((role, i) =>
      spawn(
        process.execPath,
        [
          ...nodeArgs,
          path.join(root, 'dist/cli/main.js'),
          'cdc',
          '--config',
          configPath,
          '--http-port',
          String(HTTP_PORT + i),
          ...(role ? ['--role', role] : []),
        ],
        { cwd: root, stdio: ['ignore', fd, fd], env: { ...process.env, SHARDLINE_LOG_LEVEL: 'info' } },
      ),
    );
    this.sampler = setInterval(() => this.sample(), 250);
  }

  /** The first process (the one that reads the binlog). */
  get pid(): number {
    return this.children[0]!.pid!;
  }

  /** CPU seconds of every process of the worker, by role (`all` when one process has every role). */
  cpuByRole(): Record<string, number> {
    return Object.fromEntries(ROLE_SETS.map((role, i) => [role ?? 'all', procCpuSeconds(this.children[i]!.pid!)]));
  }

  /** CPU seconds of every process of the worker together. */
  cpuSeconds(): number {
    return Object.values(this.cpuByRole()).reduce((a, b) => a + b, 0);
  }

  /** Resident memory of every process together (MB), or null once one is gone. */
  rssMb(): number | null {
    return this.memory()?.rssMb ?? null;
  }

  sample(): void {
    const m = this.memory();
    // a sum of peaks is no peak of the sum: VmHWM counts only for one process
    if (m) this.peakRssMb = Math.max(this.peakRssMb, m.rssMb, this.children.length === 1 ? m.hwmMb : 0);
  }

  /** RSS and VmHWM of every process summed (MB), or null once one is gone. */
  private memory(): { rssMb: number; hwmMb: number } | null {
    const sum = { rssMb: 0, hwmMb: 0 };
    for (const c of this.children) {
      const m = procMemory(c.pid!);
      if (!m) return null;
      sum.rssMb += m.rssMb;
      sum.hwmMb += m.hwmMb;
    }
    return sum;
  }

  async waitReading(timeoutMs = 90_000): Promise<void> {
    const instances = config.instances.map((i) => i.name);
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const exited = this.children.find((c) => c.exitCode !== null);
      if (exited) throw new Error(`the worker exited with ${exited.exitCode}; log ${this.logFile}:\n${this.tail()}`);
      try {
        last = await (await fetch(`http://127.0.0.1:${HTTP_PORT}/healthz`)).text();
        if (instances.every((i) => (JSON.parse(last) as { reading: string[] }).reading.includes(i))) return;
      } catch {
        /* not up yet */
      }
      await sleep(200);
    }
    throw new Error(
      `the worker is not reading every instance after ${timeoutMs} ms (last /healthz ${last}); log ${this.logFile}:\n${this.tail()}`,
    );
  }

  /** Every process's metrics, summed by series (each role exports its own). */
  async scrape(): Promise<Scrape> {
    const all = await Promise.all(
      this.children.map(async (_, i) => parseMetrics(await (await fetch(`http://127.0.0.1:${HTTP_PORT + i}/metrics`)).text())),
    );
    if (all.length === 1) return all[0]!;
    const sum: Scrape = new Map();
    for (const m of all) for (const [k, v] of m) sum.set(k, (sum.get(k) ?? 0) + v);
    return sum;
  }

  tail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').slice(-3000);
    } catch {
      return '';
    }
  }

  /** Stops every process; the first non-zero exit code (null when one had to be killed). */
  async stop(): Promise<number | null> {
    clearInterval(this.sampler);
    const codes = await Promise.all(
      this.children.map(async (child) => {
        if (child.exitCode !== null) return child.exitCode;
        const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
        child.kill('SIGTERM');
        const code = await Promise.race([exited, sleep(40_000).then(() => null)]);
        if (child.exitCode === null) child.kill('SIGKILL');
        return code;
      }),
    );
    return codes.includes(null) ? null : (codes.find((c) => c !== 0) ?? 0);
  }
}

const SERVICES = servicePids(process.env['SHARDLINE_STATE_DIR'] || path.join(root, '.shardline'));

/**
 * Every second: the reader's lag (max over instances of shardline_cdc_lag_seconds: now − commit
 * time of the last source transaction read) and the Elasticsearch sink group's lag in messages
 * (log end − committed offset): which side of Kafka the latency sits on.
 */
class LagSampler {
  private readonly admin;
  private running = true;
  private paused = false;
  private loop: Promise<void> = Promise.resolve();
  private samples: { readerS: number; esMsgs: number; archiveMsgs: number }[] = [];
  constructor(private readonly worker: Worker) {
    this.admin = new kafkajs.Kafka({
      clientId: `${names.name}-lag`,
      brokers: config.kafka.brokers,
      logLevel: kafkajs.logLevel.NOTHING,
    }).admin();
  }
  async start(): Promise<void> {
    await this.admin.connect();
    this.loop = (async () => {
      while (this.running) {
        if (this.paused) {
          await sleep(200);
          continue;
        }
        try {
          const m = await this.worker.scrape();
          let readerS = 0;
          for (const [k, v] of m) if (k.startsWith('shardline_cdc_lag_seconds{')) readerS = Math.max(readerS, v);
          const topic = `${names.topicPrefix}users`;
          const ends = await this.admin.fetchTopicOffsets(topic);
          const groupLag = async (group: string) => {
            const [committed] = await this.admin.fetchOffsets({ groupId: group, topics: [topic] });
            const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
            return ends.reduce((sum, e) => sum + Math.max(0, Number(e.high) - Math.max(0, at.get(e.partition) ?? 0)), 0);
          };
          this.samples.push({
            readerS,
            esMsgs: await groupLag(`${names.groupPrefix}-elasticsearch`),
            archiveMsgs: await groupLag(`${names.groupPrefix}-archive`),
          });
        } catch {
          /* the worker is stopping */
        }
        await sleep(1000);
      }
    })();
  }
  /** Stops (or resumes) sampling; the idle phase measures the worker without the bench's scrapes. */
  pause(on: boolean): void {
    this.paused = on;
  }
  /** Mean and max since the last call. */
  take() {
    const s = this.samples.splice(0);
    const stat = (xs: number[]) => ({
      mean: xs.length ? round(xs.reduce((a, b) => a + b, 0) / xs.length, 2) : null,
      max: xs.length ? round(Math.max(...xs), 2) : null,
    });
    return {
      samples: s.length,
      reader_lag_s: stat(s.map((x) => x.readerS)),
      es_group_lag_msgs: stat(s.map((x) => x.esMsgs)),
      archive_group_lag_msgs: stat(s.map((x) => x.archiveMsgs)),
    };
  }
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.admin.disconnect().catch(() => undefined);
  }
}
let lag: LagSampler | null = null;

/** CPU µs per published row of each process over a span (null when nothing was published). */
const perRow = (seconds: number, rows: number, cores: Record<string, number>): Record<string, number> | null =>
  rows > 0 ? Object.fromEntries(Object.entries(cores).map(([n, c]) => [n, round((c * seconds * 1e6) / rows, 1)])) : null;

/** The source quiet for `seconds`: what the worker and the services burn doing nothing. */
async function idlePhase(worker: Worker, seconds: number) {
  // No 1 Hz lag scrapes while idle (a monitoring scrape is every 15–60 s): the worker's own idle cost is measured.
  lag?.pause(true);
  const finish = await spanProbe(worker);
  await sleep(seconds * 1000);
  const span = await finish();
  lag?.pause(false);
  log(
    `idle ${seconds} s: worker ${span.worker_cpu_cores} cores; cores ${JSON.stringify(span.cpu_cores)}; ${span.published_events} events published`,
  );
  return { worker_cores: span.worker_cpu_cores, cpu_cores: span.cpu_cores, published_events: span.published_events, seconds: span.seconds };
}

/** Host, worker and service CPU over a span, lag samples, and the worker's metrics between two scrapes. */
async function spanProbe(worker: Worker) {
  const t0 = performance.now();
  const host0 = hostCpu();
  const cpu0 = worker.cpuSeconds();
  const roles0 = worker.cpuByRole();
  const bench0 = process.cpuUsage();
  const svc0 = Object.fromEntries(Object.entries(SERVICES).map(([n, pid]) => [n, procCpuSeconds(pid)]));
  const m0 = await worker.scrape();
  const es0 = await esWork(ES);
  lag?.take();
  return async () => {
    const seconds = (performance.now() - t0) / 1000;
    const es1 = await esWork(ES);
    const host1 = hostCpu();
    const bench = process.cpuUsage(bench0);
    const cores = Object.fromEntries(Object.entries(SERVICES).map(([n, pid]) => [n, round((procCpuSeconds(pid) - svc0[n]!) / seconds, 2)]));
    const m1 = await worker.scrape();
    const workerSeconds = worker.cpuSeconds() - cpu0;
    const roles1 = worker.cpuByRole();
    const esDocs = counterDelta(m0, m1, 'shardline_sink_records_total', { sink: 'elasticsearch' });
    const bulk = histogramDelta(m0, m1, 'shardline_es_bulk_duration_seconds');
    const commits = histogramDelta(m0, m1, 'shardline_cdc_kafka_commit_seconds');
    const published = counterDelta(m0, m1, 'shardline_cdc_published_events_total');
    return {
      seconds: round(seconds, 2),
      worker_cpu_cores: round(workerSeconds / seconds, 3),
      worker_cores_by_role: SPLIT_ROLES
        ? Object.fromEntries(Object.entries(roles1).map(([r, c]) => [r, round((c - roles0[r]!) / seconds, 3)]))
        : null,
      host_cpu_busy_pct: round(((host1.busy - host0.busy) / Math.max(1, host1.total - host0.total)) * 100, 1),
      cpu_cores: {
        bench: round((bench.user + bench.system) / 1e6 / seconds, 2),
        worker: round(workerSeconds / seconds, 2),
        ...cores,
      },
      lag: lag?.take() ?? null,
      loadavg_1m: round(os.loadavg()[0] ?? 0, 2),
      source_transactions: counterDelta(m0, m1, 'shardline_cdc_transactions_total'),
      published_events: published,
      kafka_commit: commits,
      events_per_kafka_txn: commits.count ? round(published / commits.count, 1) : null,
      es_docs: esDocs,
      cpu_us_per_row: perRow(seconds, published, {
        worker: workerSeconds / seconds,
        ...(SPLIT_ROLES ? Object.fromEntries(Object.entries(roles1).map(([r, c]) => [`worker_${r}`, (c - roles0[r]!) / seconds])) : {}),
        kafka: cores['kafka'] ?? 0,
        elasticsearch: cores['elasticsearch'] ?? 0,
      }),
      es_work: esWorkDelta(es0, es1, seconds),
      es_bulk: bulk,
      docs_per_es_bulk: bulk.count ? round(esDocs / bulk.count, 1) : null,
      es_sink_batch_write: histogramDelta(m0, m1, 'shardline_sink_write_seconds', { sink: 'elasticsearch' }),
      archive_rows: counterDelta(m0, m1, 'shardline_sink_records_total', { sink: 'archive' }),
      archive_batch_write: histogramDelta(m0, m1, 'shardline_sink_write_seconds', { sink: 'archive' }),
      commit_to_applied_es: histogramDelta(m0, m1, 'shardline_sink_commit_to_applied_seconds', { sink: 'elasticsearch' }),
      commit_to_applied_archive: histogramDelta(m0, m1, 'shardline_sink_commit_to_applied_seconds', { sink: 'archive' }),
    };
  };
}

/** Waits until the alias counts `expected` documents; resolves with the time it did (or throws). */
async function waitCount(expected: number, timeoutMs: number, onPoll?: (count: number, at: number) => void): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const count = await esCount();
    const at = performance.now();
    onPoll?.(count, at);
    if (count >= expected) return at;
    if (at > deadline) throw new Error(`Elasticsearch counts ${count} documents in ${ALIAS}, expected ${expected} (after ${timeoutMs} ms)`);
    await sleep(50);
  }
}

/** Open-loop load at `rowsPerS` for `seconds`; one sampled row per batch. */
async function ratePhase(load: Load, poller: SearchablePoller, worker: Worker, rowsPerS: number, seconds: number, label: string) {
  const perTick = Math.round((rowsPerS * TICK_MS) / 1000);
  const ticks = Math.round((seconds * 1000) / TICK_MS);
  const countBefore = await esCount();
  poller.drain();
  const finish = await spanProbe(worker);
  const inflight = new Set<Promise<void>>();
  let maxInflight = 0;
  let late = 0;
  let errors = 0;
  let rows = 0;
  const t0 = performance.now();
  for (let k = 0; k < ticks; k++) {
    const due = t0 + k * TICK_MS;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    else if (wait < -TICK_MS) late++;
    const sampleAt = k % SHARDS_PER_BATCH;
    const p: Promise<void> = load
      .batch(perTick)
      .then(({ uids, committedAt }) => {
        rows += uids.length;
        poller.add(uids[Math.floor((sampleAt * uids.length) / Math.min(SHARDS_PER_BATCH, uids.length))]!, committedAt);
      })
      .catch((err: Error) => {
        errors++;
        if (errors <= 3) log(`${label}: INSERT failed: ${err.message}`);
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
    maxInflight = Math.max(maxInflight, inflight.size);
  }
  await Promise.all(inflight);
  const writeSeconds = (performance.now() - t0) / 1000;
  await waitCount(countBefore + rows, 120_000);
  const deadline = performance.now() + 10_000;
  while (poller.waiting > 0 && performance.now() < deadline) await sleep(50);
  const lat = poller.drain().sort((a, b) => a - b);
  const span = await finish();
  const result = {
    target_rows_per_s: rowsPerS,
    achieved_rows_per_s: Math.round(rows / writeSeconds),
    rows,
    batches: ticks,
    rows_per_batch: perTick,
    late_ticks: late,
    max_inflight_batches: maxInflight,
    insert_errors: errors,
    samples: lat.length,
    samples_lost: poller.waiting,
    p50_ms: round(quantile(lat, 0.5), 0),
    p90_ms: round(quantile(lat, 0.9), 0),
    p99_ms: round(quantile(lat, 0.99), 0),
    max_ms: round(lat[lat.length - 1] ?? NaN, 0),
    min_ms: round(lat[0] ?? NaN, 0),
    mean_ms: round(lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length), 0),
    ...span,
  };
  log(
    `${label}: ${result.achieved_rows_per_s} rows/s (${rows} rows, late ticks ${late}, max in flight ${maxInflight}, errors ${errors}); commit → searchable p50 ${result.p50_ms} ms, p90 ${result.p90_ms} ms, p99 ${result.p99_ms} ms, max ${result.max_ms} ms (${lat.length} samples, ${poller.waiting} not found); ` +
      `host ${span.host_cpu_busy_pct}% busy, cores ${JSON.stringify(span.cpu_cores)}; lag ${JSON.stringify(span.lag)}; kafka commit mean ${span.kafka_commit.mean_ms} ms (${span.events_per_kafka_txn} events/txn); ES bulk mean ${span.es_bulk.mean_ms} ms (${span.docs_per_es_bulk} docs/bulk); commit→applied(ES) p50 ≤ ${span.commit_to_applied_es.p50_le_ms} ms p99 ≤ ${span.commit_to_applied_es.p99_le_ms} ms`,
  );
  poller.drain();
  return result;
}

/** As fast as CONCURRENCY writers can go for `seconds`; rows/s until every row is searchable. */
async function sustainedPhase(load: Load, worker: Worker, seconds: number) {
  const countBefore = await esCount();
  const finish = await spanProbe(worker);
  let rows = 0;
  let errors = 0;
  const t0 = performance.now();
  const stopAt = t0 + seconds * 1000;
  const timeline: [number, number][] = [];
  let lastLog = t0;
  let searchable = 0;
  let capWaits = 0;
  const watch = (async () => {
    while (performance.now() < stopAt) {
      const c = (await esCount()) - countBefore;
      searchable = c;
      const at = performance.now();
      timeline.push([(at - t0) / 1000, c]);
      if (at - lastLog > 5000) {
        lastLog = at;
        log(`sustained: t=${((at - t0) / 1000).toFixed(0)} s written ${rows}, searchable ${c}, RSS ${worker.rssMb()?.toFixed(0)} MB`);
      }
      await sleep(250);
    }
  })();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < stopAt) {
        if (rows - searchable > BACKLOG_CAP) {
          capWaits++;
          await sleep(20);
          continue;
        }
        try {
          const { uids } = await load.batch(SUSTAINED_BATCH);
          rows += uids.length;
        } catch (err) {
          errors++;
          if (errors <= 3) log(`sustained: INSERT failed: ${(err as Error).message}`);
          await sleep(100);
        }
      }
    }),
  );
  const tWritten = performance.now();
  await watch;
  const searchableAtEndOfWrites = (await esCount()) - countBefore;
  log(
    `sustained: ${rows} rows written in ${((tWritten - t0) / 1000).toFixed(1)} s (${Math.round(rows / ((tWritten - t0) / 1000))} rows/s), ${searchableAtEndOfWrites} searchable then; waiting for the rest`,
  );
  const tAll = await waitCount(countBefore + rows, 600_000, (c, at) => timeline.push([(at - t0) / 1000, c - countBefore]));
  const span = await finish();
  const total = (tAll - t0) / 1000;
  // Steady drain rate: searchable rows/s over the middle of the write window (skips start-up).
  const inWindow = timeline.filter(([t]) => t >= seconds * 0.25 && t <= seconds);
  const drain =
    inWindow.length >= 2
      ? (inWindow[inWindow.length - 1]![1] - inWindow[0]![1]) / (inWindow[inWindow.length - 1]![0] - inWindow[0]![0])
      : null;
  const result = {
    rows,
    insert_errors: errors,
    write_seconds: round((tWritten - t0) / 1000, 2),
    source_rows_per_s: Math.round(rows / ((tWritten - t0) / 1000)),
    searchable_at_end_of_writes: searchableAtEndOfWrites,
    all_searchable_after_s: round(total, 2),
    sustained_rows_per_s: Math.round(rows / total),
    steady_searchable_rows_per_s: drain === null ? null : Math.round(drain),
    concurrency: CONCURRENCY,
    rows_per_insert: SUSTAINED_BATCH,
    backlog_cap_rows: BACKLOG_CAP,
    writer_waits_on_backlog_cap: capWaits,
    ...span,
  };
  log(
    `sustained: ${result.sustained_rows_per_s} rows/s commit → searchable (all ${rows} after ${result.all_searchable_after_s} s; source wrote ${result.source_rows_per_s} rows/s; steady drain ${result.steady_searchable_rows_per_s} rows/s); ` +
      `host ${span.host_cpu_busy_pct}% busy, cores ${JSON.stringify(span.cpu_cores)}; lag ${JSON.stringify(span.lag)}; kafka commit mean ${span.kafka_commit.mean_ms} ms (${span.events_per_kafka_txn} events/txn); ES bulk mean ${span.es_bulk.mean_ms} ms p99 ≤ ${span.es_bulk.p99_le_ms} (${span.docs_per_es_bulk} docs/bulk); archive ${span.archive_rows} rows`,
  );
  return result;
}

/**
 * The local cluster is shared (tests of other checkouts start and stop it): when `dev status`
 * says it is up (asked for up to 20 s: a restarting service makes it fail for a moment), the bench
 * runs on it and never stops it; only when it stays down does `withCluster` start it (and stop it).
 */

await onCluster(async () => {
  execFileSync(process.execPath, [path.join(root, 'dist/cli/main.js'), 'migrate'], { stdio: 'ignore' });
  const router = await createRouter(config);
  const paused: PausedReplication | null = REPLICAS === 'stopped' ? await pauseReplication(config, log) : null;
  const uids = new UidSource((u) => router.topology.shardOf(u), router.topology.shardCount);
  const load = new Load(router, uids);
  log(
    `config ${configPath}: topics ${names.topicPrefix}*, index ${ALIAS}, archive ${names.archiveDatabase}; tuning ${JSON.stringify(tuning)}; UIDs from ${BASE}`,
  );
  const worker = new Worker();
  log(
    `worker pid ${worker.children.map((c) => c.pid).join(', ')} (log ${worker.logFile})${CPU_PROF ? `, --cpu-prof into ${worker.profDir}` : ''}`,
  );
  let poller: SearchablePoller | null = null;
  let exitCode: number | null = null;
  try {
    await worker.waitReading();
    const idleRss = worker.rssMb();
    log(`worker reading all instances; RSS ${idleRss?.toFixed(0)} MB`);
    lag = new LagSampler(worker);
    await lag.start();

    // Warm-up: creates the index and alias, JITs the hot paths; not measured.
    let warmRows = 0;
    for (let i = 0; i < 100; i++) {
      warmRows += (await load.batch(20)).uids.length;
      await sleep(10);
    }
    await waitCount(warmRows, 120_000);
    if (REFRESH_INTERVAL) {
      const res = await fetch(`${ES}/${encodeURIComponent(`${ALIAS}.v1`)}/_settings`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ index: { refresh_interval: REFRESH_INTERVAL } }),
      });
      log(`experiment: refresh_interval of ${ALIAS}.v1 set to ${REFRESH_INTERVAL} (${res.status})`);
    }
    log(`warm-up: ${warmRows} rows searchable`);
    await sleep(3000);
    const idle = await idlePhase(worker, IDLE_S);
    poller = new SearchablePoller();

    const at1k = await ratePhase(load, poller, worker, 1000, RATE_S, '1k rows/s');
    const at5k = await ratePhase(load, poller, worker, 5000, RATE_S, '5k rows/s');
    await poller.stop();
    const pollMs = poller.pollMs.sort((a, b) => a - b);
    poller = null;
    const sustained = await sustainedPhase(load, worker, SUSTAINED_S);

    await lag.stop();
    lag = null;
    const finalMem = worker.rssMb();
    worker.sample();
    const metrics = await worker.scrape();
    const dead = counterDelta(new Map(), metrics, 'shardline_sink_dead_letters_total');
    exitCode = await worker.stop();
    log(`worker stopped (exit ${exitCode}); peak RSS ${worker.peakRssMb.toFixed(0)} MB`);
    let profile: ReturnType<typeof topSelfTime> = null;
    let areas: Record<string, number> = {};
    if (CPU_PROF) {
      profile = topSelfTime(worker.profDir);
      areas = selfTimeByArea(worker.profDir);
      if (profile) {
        log(`worker CPU profile ${profile.file} (${profile.totalMs} ms sampled); self time by area: ${JSON.stringify(areas)}`);
        for (const r of profile.rows) log(`  ${String(r.pct).padStart(5)}%  ${String(r.selfMs).padStart(7)} ms  ${r.fn}`);
      }
    }

    const result = {
      sustained_rows_per_s: sustained.sustained_rows_per_s,
      p50_ms_at_1k: at1k.p50_ms,
      p99_ms_at_1k: at1k.p99_ms,
      p50_ms_at_5k: at5k.p50_ms,
      p99_ms_at_5k: at5k.p99_ms,
      worker_cpu_us_per_row_at_5k: at5k.cpu_us_per_row?.['worker'] ?? null,
      idle_worker_cores: idle.worker_cores,
      worker_rss_mb: round(worker.peakRssMb, 1),
      targets: { sustained_rows_per_s: 20000, p99_ms_at_5k: 600, worker_cpu_us_per_row_at_5k: 20, idle_worker_cores: 0.02 },
      met: {
        sustained_rows_per_s: sustained.sustained_rows_per_s >= 20000,
        p99_ms_at_5k: at5k.p99_ms <= 600,
        worker_cpu_us_per_row_at_5k: (at5k.cpu_us_per_row?.['worker'] ?? Infinity) <= 20,
        idle_worker_cores: idle.worker_cores <= 0.02,
      },
      cpu_us_per_row: { at_1k: at1k.cpu_us_per_row, at_5k: at5k.cpu_us_per_row, sustained: sustained.cpu_us_per_row },
      idle,
      worker_rss_mb_idle: idleRss !== null ? round(idleRss, 1) : null,
      worker_rss_mb_end: finalMem !== null ? round(finalMem, 1) : null,
      split_roles: SPLIT_ROLES,
      replicas: paused ? { mode: 'stopped', stopped: paused.stopped } : { mode: 'applying' },
      worker_exit_code: exitCode,
      dead_letters: dead,
      at_1k: at1k,
      at_5k: at5k,
      sustained,
      latency_method: `ids search on the alias every ${POLL_MS} ms for one sampled row per ${TICK_MS} ms batch; commit = router INSERT resolved; searchable = search answer arrived (upper bound); ES refresh_interval ${REFRESH_INTERVAL ?? '300ms (cdc.elasticsearch.refreshInterval default)'}`,
      poll_search_ms: { p50: round(quantile(pollMs, 0.5), 1), p99: round(quantile(pollMs, 0.99), 1) },
      tuning: { ...tuning, refresh_interval: REFRESH_INTERVAL ?? '300ms' },
      cpu_profile: profile ? { file: profile.file, by_area_pct: areas, top: profile.rows.slice(0, 15) } : null,
      cpus: os.availableParallelism(),
      loadavg_1m_at_end: round(os.loadavg()[0] ?? 0, 2),
    };
    console.log(JSON.stringify(result));
  } finally {
    await poller?.stop();
    await lag?.stop();
    if (exitCode === null) await worker.stop();
    if (process.env['BENCH_KEEP'] === '1')
      log(`BENCH_KEEP=1: leaving ${names.name}'s topics, index, archive database and rows (UIDs ${BASE}…${uids.highest})`);
    else {
      const step = async (what: string, fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (err) {
          log(`clean-up: ${what} failed: ${(err as Error).message}`);
        }
      };
      await step('delete the rows', async () => {
        const res = await router.query('DELETE FROM users WHERE uid BETWEEN ? AND ?', [BASE, BASE + 10_000_000n - 1n], { scatter: true });
        log(`rows: deleted ${(res as { affectedRows?: number }).affectedRows ?? '?'} users rows of the bench`);
      });
      await step('kafka', () => dropKafkaState(config, names, log));
      await step('elasticsearch', () => dropEsState(ES, names, log));
      await step('archive', () => dropArchiveDatabase(config, names, log));
    }
    await paused?.resume();
    await router.close();
  }
});
