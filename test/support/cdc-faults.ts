import { Client } from '@elastic/elasticsearch';
import { execFile } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import kafkajs from './kafkajs-lz4.js';
import { packageRoot, type CdcClusterConfig } from '../../src/config/index.js';
import type { Router } from '../../src/index.js';
import { archiveSession } from './archive-session.js';
import { archiveRows, diff, sourceRows, type Keyed } from './cdc-equality.js';
import { prng } from './cdc-workload.js';
import { devStatusJson, shardline } from './cluster.js';

const { Kafka, logLevel } = kafkajs;

/** Primary keys of the tables the CDC tests write. */
export const PK = { users: ['uid'], orders: ['uid', 'order_id'] } as const;

/** Differences between source, Elasticsearch and archive for a test's uid range (empty when equal). */
export async function pipelineDiff(
  router: Router,
  config: CdcClusterConfig,
  name: string,
  from: bigint,
  to: bigint,
  sinks: { es?: boolean; archive?: boolean } = { es: true, archive: true },
): Promise<string[]> {
  const problems: string[] = [];
  for (const table of ['users', 'orders'] as const) {
    const source = await sourceRows(router, table, PK[table], from, to);
    if (sinks.es)
      problems.push(...diff(source, await esDocsOrNone(config.elasticsearch.node, `${name}-${table}`, from, to), `es ${table}`));
    if (sinks.archive) problems.push(...diff(source, await archiveLive(config, name, table, from, to), `archive ${table}`));
  }
  return problems;
}

/** Live archive rows of a test's archive database; none while the sink has not made the database yet. */
export async function archiveLive(
  config: CdcClusterConfig,
  name: string,
  table: 'users' | 'orders',
  from: bigint,
  to: bigint,
): Promise<Keyed> {
  try {
    return (await archiveRows(config, `${name}_archive`, table, PK[table], from, to)).live;
  } catch (err) {
    if ((err as { errno?: number }).errno === 1049) return new Map();
    throw err;
  }
}

/**
 * Documents of an index or alias with a uid in [from, to], by _id, without shardline's `_…` fields;
 * none while the index does not exist yet (the sink makes it at its first write) or its shards are
 * still starting. Unlike
 * `esDocs`, the range is asked of Elasticsearch: other tests' rows in the same index (a worker
 * captures every write to the cluster) do not count against the 10 000 documents read.
 */
export async function esDocsOrNone(node: string, index: string, from: bigint, to: bigint): Promise<Keyed> {
  const es = new Client({ node, requestTimeout: 30_000 });
  try {
    await es.indices.refresh({ index }).catch(() => undefined);
    const bounds = { gte: from.toString(), lte: to.toString() };
    // uid is BIGINT UNSIGNED: unsigned_long where the distribution has it, else keyword with a `num` double.
    const query = {
      bool: {
        should: [{ range: { 'uid.num': { gte: Number(from), lte: Number(to) } } }, { range: { uid: bounds } }],
        minimum_should_match: 1,
      },
    };
    const res = await es.search<Record<string, unknown>>({ index, size: 10_000, track_total_hits: true, query });
    const total = typeof res.hits.total === 'number' ? res.hits.total : (res.hits.total?.value ?? 0);
    if (total > 10_000) throw new Error(`${index} has ${total} documents in ${from}..${to}: more than this helper reads`);
    const out: Keyed = new Map();
    for (const h of res.hits.hits) {
      const doc = Object.fromEntries(Object.entries(h._source ?? {}).filter(([k]) => !k.startsWith('_')));
      const uid = BigInt(String(doc['uid']));
      if (uid >= from && uid <= to) out.set(h._id!, doc);
    }
    return out;
  } catch (err) {
    // Not there yet: no index, or one the sink has just created whose shards are still starting.
    if (/index_not_found_exception|no_shard_available_action_exception/.test(String((err as Error).message))) return new Map();
    throw err;
  } finally {
    await es.close();
  }
}

/**
 * Waits until the worker reads every instance from a fixed start position: its
 * `shardline_cdc_instance_reading` gauge is 1 for each. (`/healthz` lists an instance as soon as
 * it is assigned, before the reader has recorded where it starts: a write made in between can be
 * before that start and is never captured.)
 */
export async function waitStartedReading(metrics: () => Promise<string>, instances: readonly string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await metrics().catch(() => '');
    if (instances.every((instance) => metricValue(text, 'shardline_cdc_instance_reading', { instance }) === 1)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `the worker does not read ${instances.join(', ')} after ${timeoutMs} ms: ${text
      .split('\n')
      .filter((l) => l.startsWith('shardline_cdc_instance_reading'))
      .join('; ')}`,
  );
}

/** Polls `check` until it reports nothing or `timeoutMs` passes; returns the last problems and how long it took. */
export async function converge(
  check: () => Promise<string[]>,
  timeoutMs: number,
  everyMs = 1000,
): Promise<{ problems: string[]; ms: number }> {
  const started = Date.now();
  let problems = await check();
  while (problems.length && Date.now() - started < timeoutMs) {
    await new Promise((r) => setTimeout(r, everyMs));
    problems = await check();
  }
  return { problems, ms: Date.now() - started };
}

/** What a {@link SteadyWorkload} did. */
export interface SteadyStats {
  ops: number;
  inserted: number;
  updated: number;
  deleted: number;
  reinserted: number;
}

/**
 * A workload that keeps writing through the router until stopped: inserts of new uids (users +
 * orders in one shard transaction), updates of both tables, deletes and re-inserts. Each loop owns
 * its own uids (index % concurrency), so its bookkeeping of what exists is exact.
 */
export class SteadyWorkload {
  readonly stats: SteadyStats = { ops: 0, inserted: 0, updated: 0, deleted: 0, reinserted: 0 };
  private running = false;
  private loops: Promise<void>[] = [];
  private error: unknown = null;

  constructor(
    private readonly router: Router,
    private readonly uids: readonly bigint[],
    private readonly seed: number,
    private readonly concurrency = 2,
    private readonly pauseMs = 15,
  ) {}

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.concurrency }, (_, i) => this.loop(i));
  }

  /** Stops after the operations in progress; rethrows the first failure of a loop. */
  async stop(): Promise<SteadyStats> {
    this.running = false;
    await Promise.all(this.loops);
    if (this.error) throw this.error;
    return this.stats;
  }

  private async loop(i: number): Promise<void> {
    const rnd = prng(this.seed * 31 + i);
    const mine = this.uids.filter((_, k) => k % this.concurrency === i);
    const money = () => `${Math.floor(rnd() * 100000)}.${String(Math.floor(rnd() * 100)).padStart(2, '0')}`;
    const live: bigint[] = [];
    const gone: bigint[] = [];
    let next = 0;
    const takeRandom = (xs: bigint[]) => xs.splice(Math.floor(rnd() * xs.length), 1)[0]!;
    try {
      while (this.running) {
        const r = rnd();
        if (next < mine.length && (r < 0.45 || live.length < 4)) {
          const u = mine[next++]!;
          await this.router.forUid(u).transaction(async (tx) => {
            await tx.query('INSERT INTO users (uid, name, email, balance) VALUES (?, ?, ?, ?)', [
              u,
              `steady ${u}`,
              rnd() < 0.2 ? null : `${u}@example.com`,
              money(),
            ]);
            await tx.query("INSERT INTO orders (uid, order_id, amount, status, created_at) VALUES (?, 1, ?, 'new', NOW(6))", [u, money()]);
          });
          live.push(u);
          this.stats.inserted++;
        } else if (r < 0.85 && live.length) {
          const u = live[Math.floor(rnd() * live.length)]!;
          await this.router.forUid(u).transaction(async (tx) => {
            await tx.query('UPDATE users SET balance = ?, name = ?, updated_at = NOW(6) WHERE uid = ?', [
              money(),
              `updated ${u} ${this.stats.ops}`,
              u,
            ]);
            await tx.query("UPDATE orders SET status = 'paid', amount = amount + 1 WHERE uid = ? AND order_id = 1", [u]);
          });
          this.stats.updated++;
        } else if (r < 0.95 && live.length > 4) {
          const u = takeRandom(live);
          await this.router.forUid(u).transaction(async (tx) => {
            await tx.query('DELETE FROM orders WHERE uid = ?', [u]);
            await tx.query('DELETE FROM users WHERE uid = ?', [u]);
          });
          gone.push(u);
          this.stats.deleted++;
        } else if (gone.length) {
          const u = takeRandom(gone);
          await this.router.query('INSERT INTO users (uid, name, email, balance) VALUES (?, ?, NULL, ?)', [u, `back ${u}`, money()]);
          await this.router.query("INSERT INTO orders (uid, order_id, amount, status, created_at) VALUES (?, 1, ?, 'new', NOW(6))", [
            u,
            money(),
          ]);
          live.push(u);
          this.stats.reinserted++;
        } else continue;
        this.stats.ops++;
        await new Promise((res) => setTimeout(res, this.pauseMs));
      }
    } catch (err) {
      this.error ??= err;
      this.running = false;
    }
  }
}

/** The pid of a dev-cluster service (from `dev status --json`). */
export function servicePid(name: 'kafka' | 'elasticsearch'): number {
  const s = devStatusJson().find((x) => x.name === name);
  if (!s?.pid) throw new Error(`dev status has no pid for ${name}: ${JSON.stringify(s)}`);
  return s.pid;
}

/** Whether a process exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until a process is gone. */
export async function waitGone(pid: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} still alive after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * `shardline dev up` without blocking the event loop (the workload keeps writing meanwhile).
 * Retried: another test run's global setup may be running `dev up` at the same time (it sees the
 * service we stopped as down), and one of two concurrent starts of a service fails.
 */
export async function devUp(attempts = 3): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await promisify(execFile)(process.execPath, [path.join(packageRoot, 'dist', 'cli', 'main.js'), 'dev', 'up'], {
        cwd: packageRoot,
        timeout: 300_000,
      });
      return;
    } catch (err) {
      if (attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
}

/**
 * The integration tests' global setup (test/support/cluster-control.mjs) takes "some service is
 * unhealthy" for "the cluster is not running": a jest run that starts while a fault test has
 * Kafka down or Elasticsearch stopped runs `dev up`, writes `.shardline/run/started-by-tests`,
 * and its global teardown then runs `dev down` on the whole shared cluster. While a fault is on
 * (and until the test ends), a marker that appears is such a false claim and is removed.
 */
export class StartedByTestsMarkerGuard {
  readonly file = path.join(process.env['SHARDLINE_STATE_DIR'] || path.join(packageRoot, '.shardline'), 'run', 'started-by-tests');
  private timer: NodeJS.Timeout | null = null;
  removed = 0;

  /** Starts watching, unless a marker exists already (then a test run did start the cluster). */
  start(): void {
    if (this.timer || existsSync(this.file)) return;
    this.timer = setInterval(() => this.sweep(), 200);
  }

  sweep(): void {
    if (!this.timer || !existsSync(this.file)) return;
    rmSync(this.file, { force: true });
    this.removed++;
    process.stdout.write(
      `[cdc-faults] removed ${this.file}: written by a test run that started during a fault of this test (the cluster was up before it)\n`,
    );
  }

  stop(): void {
    this.sweep();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/** Best-effort: resumes a stopped Elasticsearch and starts whatever service is down (`dev up`). */
export function healCluster(esPid: number | null): void {
  if (esPid !== null) {
    try {
      process.kill(esPid, 'SIGCONT');
    } catch {
      /* gone */
    }
  }
  try {
    shardline('dev', 'up');
  } catch (err) {
    console.error(`dev up failed while healing the cluster: ${(err as Error).message}`);
  }
}

/** A metric's value for an exact label set, or 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? ([^ ]+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (want.every(([k, v]) => have.get(k) === v)) return Number(m[3]);
  }
  return 0;
}

/** Sum of a metric over every label set. */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})? ([^ ]+)/.exec(line);
    if (m && m[1] === name) sum += Number(m[2]);
  }
  return sum;
}

/** A message of a topic as the tests read it. */
export interface ReadMessage {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** Committed messages of a topic (read_committed, own throw-away group), once `enough` holds or after `timeoutMs`. */
export async function readTopic(
  brokers: string[],
  topic: string,
  enough: (msgs: ReadMessage[]) => boolean,
  timeoutMs = 30_000,
): Promise<ReadMessage[]> {
  const kafka = new Kafka({ clientId: 'cdc-faults-test', brokers, logLevel: logLevel.NOTHING });
  const groupId = `cdc-faults-reader-${process.pid}-${Date.now()}`;
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 100 });
  const out: ReadMessage[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let done: () => void = () => {};
    const finished = new Promise<void>((r) => (done = r));
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {}))
          if (v !== undefined) headers[k] = String(Array.isArray(v) ? v[v.length - 1] : v);
        out.push({
          partition,
          offset: message.offset,
          key: message.key?.toString('utf8') ?? null,
          value: message.value?.toString('utf8') ?? null,
          headers,
        });
        if (enough(out)) done();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([finished, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  } finally {
    await consumer.disconnect().catch(() => undefined);
    const admin = kafka.admin();
    await admin.connect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  return out;
}

/** Drops what a CDC test created: its Kafka topics and groups, `<name>-*` in Elasticsearch, `<name>_archive`. */
export async function cleanupCdcTest(config: CdcClusterConfig, name: string): Promise<void> {
  const kafka = new Kafka({
    clientId: 'cdc-faults-cleanup',
    brokers: config.kafka.brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 3 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${name}.`));
    if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(`${name}-`));
    if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
  } catch (err) {
    console.error(`cleanup of ${name} in Kafka failed: ${(err as Error).message}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const es = new Client({ node: config.elasticsearch.node, requestTimeout: 30_000 });
  try {
    await es.indices.delete({ index: `${name}-*`, ignore_unavailable: true, allow_no_indices: true, expand_wildcards: 'all' });
    await es.indices.deleteIndexTemplate({ name: `${name}-*` }).catch(() => undefined);
  } catch (err) {
    console.error(`cleanup of ${name} in Elasticsearch failed: ${(err as Error).message}`);
  } finally {
    await es.close();
  }
  const s = await archiveSession(config.archive);
  try {
    await s.query(`DROP DATABASE IF EXISTS \`${name}_archive\``);
  } finally {
    await s.close();
  }
}
