/**
 * npm run bench:stream — binlog streaming against Debezium (issue 14, item 5), side by side on the
 * same MySQL binlog range of shard-0 (MySQL 8.0), written while no reader runs (so the writer
 * bounds neither side):
 *
 * - data: a scratch database `bench_stream_<pid>` with a narrow (6 columns) and a mixed (15
 *   columns: BIGINT UNSIGNED, DECIMAL, DOUBLE, DATETIME(6), TIMESTAMP(6), VARCHAR, TEXT, JSON,
 *   ENUM, BIT, …) table; BENCH_NARROW_ROWS / BENCH_MIXED_ROWS rows, generated server-side in
 *   transactions of BENCH_TXN_ROWS rows; dropped at the end;
 * - per table, a range: Debezium's stream baseline is recorded, the position is taken, then the
 *   rows are written; every side replays exactly that range in every round;
 * - Debezium side: Debezium embedded 3.6.1.Final from the baseline into a no-op consumer
 *   (bench/debezium.ts); first delivered batch → last event; the JVM's process CPU;
 * - shardline no-op side, in this process: the worker's own source (binlogSources → the
 *   TransactionStream) and its encoding (captureTarget + RowMessages → changeMessages: the change
 *   event JSON exactly as the pipeline hands it to Kafka) into a no-op sink; first item → last
 *   row; this process's cpuUsage;
 * - shardline to Kafka: a real worker (`node dist/cli/main.js cdc --role reader`) on a config of
 *   its own (own topics and groups, only the bench table captured), its checkpoint for shard-0
 *   seeded at the range's start; first → last event committed to Kafka (exactly-once
 *   transactions, `shardline_cdc_published_events_total`); the worker's CPU from /proc;
 * - the sides alternate within one run (Debezium, shardline no-op, shardline → Kafka, repeat),
 *   BENCH_ROUNDS (3) rounds; medians and min–max, CPU per row, host busy % (/proc/stat) per run.
 *   Every run must see exactly the rows written; the last Kafka round of each table is also
 *   counted back from its topic (read_committed, distinct keys).
 * - sinks (after each Kafka run, BENCH_SINKS=0 skips them): a worker with `--role elasticsearch`,
 *   then one with `--role archive`, drains the topic just written from its first offset into the
 *   sink (bench/stream-sinks.ts); first → last record applied; the worker's CPU and the service's
 *   (Elasticsearch's JVM, the archive's mysqld) per row; what each wrote is removed after it.
 *
 * Environment: BENCH_NARROW_ROWS (300000), BENCH_MIXED_ROWS (150000), BENCH_ROUNDS (3),
 * BENCH_TXN_ROWS (1000), BENCH_KAFKA=0 (skip the worker runs), BENCH_SINKS=0 (skip the sink runs), BENCH_WORKER_NODE_ARGS (extra node flags of the worker), BENCH_PARTITIONS (4),
 * BENCH_DEBEZIUM_USER=own (a user with Debezium's documented grants, created and dropped; default:
 * the instance's replication account, the one shardline reads with), BENCH_KEEP=1 (keep the
 * database), BENCH_ADMIN_USER / BENCH_ADMIN_PASSWORD (root / empty). Progress on stderr; last
 * stdout line: one JSON object.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { loadClusterConfig } from 'shardline';
import { ALL_SECTIONS, bundledClusterConfig, requireSections } from 'shardline/config';
import type { Checkpoint } from '../src/cdc/checkpoint/checkpoint.js';
import { CheckpointStore } from '../src/cdc/checkpoint/checkpoint-store.js';
import { KafkajsEventLog } from '../src/cdc/kafka/kafkajs-event-log.js';
import { captureTarget } from '../src/cdc/pipeline/capture-rules.js';
import { RowMessages } from '../src/cdc/pipeline/row-messages.js';
import { binlogSources } from '../src/cdc/pipeline/transaction-source.js';
import { captureRules } from '../src/cdc/worker.js';
import { Topology } from '../src/shard/index.js';
import { onCluster } from './cluster.js';
import { hostSpan, median, round, spread, type SideRun } from './stats.js';
import {
  buildDebezium,
  debeziumSideRun,
  ensureDebeziumUser,
  prepareDebeziumStreamBaseline,
  runDebeziumStream,
  writeServerPublicKey,
} from './debezium.js';
import { metric, parseMetrics, procCpuSeconds, procMemory, servicePids } from './e2e-probe.js';
import { sinkRun, type SinkRole, type SinkRun } from './stream-sinks.js';

const env = (key: string, fallback: number) => Number(process.env[key] ?? fallback);
const ROWS = { narrow: env('BENCH_NARROW_ROWS', 300_000), mixed: env('BENCH_MIXED_ROWS', 150_000) };
const ROUNDS = Math.max(1, env('BENCH_ROUNDS', 3));
const TXN_ROWS = Math.max(1, Math.min(10_000, env('BENCH_TXN_ROWS', 1000)));
const KAFKA = process.env['BENCH_KAFKA'] !== '0';
const WORKER_NODE_ARGS = (process.env['BENCH_WORKER_NODE_ARGS'] ?? '').split(/\s+/).filter(Boolean);
const PARTITIONS = env('BENCH_PARTITIONS', 4);
const OWN_DBZ_USER = process.env['BENCH_DEBEZIUM_USER'] === 'own';
const INSTANCE = 'shard-0';
const DB = `bench_stream_${process.pid}`;
const HTTP_PORT = 19_700 + (process.pid % 200);
const TIMEOUT_S = 600;
const SINKS = process.env['BENCH_SINKS'] !== '0';
const SINK_HTTP_PORT = HTTP_PORT + 200;
let nextServerId = 4_260_000_000 + (process.pid % 1000) * 20;

type Kind = 'narrow' | 'mixed';
const KINDS: Kind[] = ['narrow', 'mixed'];

const root = path.resolve(import.meta.dirname, '..', '..');
const log = (msg: string) => process.stderr.write(`[bench:stream] ${msg}\n`);

const config = requireSections(loadClusterConfig(bundledClusterConfig), ALL_SECTIONS, 'the stream bench');
const inst = config.instances.find((i) => i.name === INSTANCE);
if (!inst || inst.flavour !== 'mysql' || !inst.replication)
  throw new Error(`${INSTANCE} must be a MySQL instance with a replication account`);
const replicated = { ...inst, replication: inst.replication };
const adminCreds = { user: process.env['BENCH_ADMIN_USER'] ?? 'root', password: process.env['BENCH_ADMIN_PASSWORD'] ?? '' };
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);

const COLUMNS: Record<Kind, { create: string; select: string }> = {
  narrow: {
    create:
      'id BIGINT NOT NULL PRIMARY KEY, uid BIGINT NOT NULL, name VARCHAR(64) NOT NULL, amount DECIMAL(12,2) NOT NULL, ' +
      'created DATETIME(6) NOT NULL, flag TINYINT NOT NULL',
    select:
      "n, 10000000000 + n * 7919, CONCAT('name-', n), (n * 37 % 1000000) / 100, " +
      "TIMESTAMP('2024-01-01 00:00:00') + INTERVAL n SECOND + INTERVAL (n * 7919 % 1000000) MICROSECOND, n % 2",
  },
  mixed: {
    create:
      'id BIGINT NOT NULL PRIMARY KEY, u64 BIGINT UNSIGNED NOT NULL, i32 INT NOT NULL, i8 TINYINT NOT NULL, ' +
      'amount DECIMAL(20,6) NOT NULL, ratio DOUBLE NOT NULL, label VARCHAR(64) NOT NULL, email VARCHAR(191) NOT NULL, ' +
      "dt6 DATETIME(6) NOT NULL, ts6 TIMESTAMP(6) NULL, day DATE NOT NULL, color ENUM('red','green','blue') NOT NULL, " +
      'note TEXT NULL, doc JSON NOT NULL, active BIT(1) NOT NULL',
    select:
      "n, 18446744073709551615 - n, n * 7 - 1000000, CAST(n % 256 AS SIGNED) - 128, n * 1.000001 * IF(n % 2, 1, -1), n / 3e0, CONCAT('ünïcødé-', n, '-🙂'), " +
      "CONCAT('user', n, '@example.com'), TIMESTAMP('2024-01-01 00:00:00') + INTERVAL n * 1000003 MICROSECOND, " +
      'IF(n % 10 = 0, NULL, FROM_UNIXTIME(1700000000 + n) + INTERVAL (n * 7919) % 1000000 MICROSECOND), ' +
      "DATE('2020-01-01') + INTERVAL n % 3650 DAY, ELT(1 + n % 3, 'red', 'green', 'blue'), " +
      "IF(n % 2 = 0, NULL, CONCAT('note ', n, ': ', REPEAT('lorem ipsum ', 1 + n % 8))), " +
      "JSON_OBJECT('id', n, 'tags', JSON_ARRAY('x', n % 10), 'ok', n % 2 = 0), n % 2",
  },
};

/** The binlog position now, as the checkpoint a reader resumes after. */
async function currentCheckpoint(admin: mysql.Connection): Promise<Checkpoint> {
  const [[status]] = await admin
    .query<RowDataPacket[]>('SHOW BINARY LOG STATUS')
    .catch(() => admin.query<RowDataPacket[]>('SHOW MASTER STATUS'));
  const [[server]] = await admin.query<RowDataPacket[]>('SELECT @@server_id AS id, @@server_uuid AS uuid');
  const gtids = String(status!['Executed_Gtid_Set'] ?? '').replace(/\s+/g, '');
  return {
    instance: INSTANCE,
    flavour: 'mysql',
    serverUuid: String(server!['uuid']),
    serverId: Number(server!['id']),
    file: String(status!['File']),
    pos: Number(status!['Position']),
    gtidSet: gtids || null,
  };
}

/** Writes `total` rows into `kind` server-side, one transaction per TXN_ROWS rows, over two connections. */
async function writeRows(kind: Kind, total: number): Promise<void> {
  const t0 = performance.now();
  let next = 1;
  await Promise.all(
    [0, 1].map(async () => {
      const c = await mysql.createConnection({ host: inst!.host, port: inst!.port, ...adminCreds });
      try {
        await c.query(`SET SESSION cte_max_recursion_depth = ${TXN_ROWS + 10}, time_zone = '+00:00'`);
        for (let a = next; a <= total; a = next) {
          next += TXN_ROWS;
          const b = Math.min(total, a + TXN_ROWS - 1);
          await c.query(
            `INSERT INTO ${DB}.${kind} WITH RECURSIVE seq(n) AS (SELECT CAST(${a} AS SIGNED) UNION ALL SELECT n + 1 FROM seq WHERE n < ${b}) ` +
              `SELECT ${COLUMNS[kind].select} FROM seq`,
          );
        }
      } finally {
        await c.end();
      }
    }),
  );
  log(`${kind}: ${total} rows written in ${((performance.now() - t0) / 1000).toFixed(1)} s (${Math.ceil(total / TXN_ROWS)} transactions)`);
}

/** shardline's reader and change-event encoding over the range, into a no-op sink. */
async function shardlineNoop(kind: Kind, from: Checkpoint, expected: number): Promise<SideRun & { bytes: number; wall_s: number }> {
  const rules = captureRules({ ...config, cdc: { ...config.cdc, tables: { include: [`${DB}.${kind}`], exclude: [] } } }, topology);
  const source = binlogSources({ instance: replicated, replicaServerId: nextServerId++, heartbeatMs: 5000 }).open(
    from,
    (database, table) => captureTarget(rules, INSTANCE, database, table) !== null,
  );
  const messages = new RowMessages({ instance: INSTANCE, flavour: 'mysql', topicPrefix: `${DB}.` });
  const topic = `${DB}.${kind}`;
  let rows = 0;
  let bytes = 0;
  let tFirst = 0;
  let cpu0: NodeJS.CpuUsage | undefined;
  let host: ReturnType<typeof hostSpan> | undefined;
  const wall0 = performance.now();
  const timer = setTimeout(() => source.close(), TIMEOUT_S * 1000);
  try {
    for await (const item of source.items()) {
      if (tFirst === 0) {
        tFirst = performance.now();
        cpu0 = process.cpuUsage();
        host = hostSpan();
      }
      if (item.type === 'begin') messages.begin(item);
      else if (item.type === 'rows') {
        if (item.event.filtered) continue;
        const target = captureTarget(rules, INSTANCE, item.event.table.database, item.event.table.table);
        if (!target) continue;
        for (const m of messages.of(item.event, target, source.facts?.serverUuid ?? null)) {
          if (m.topic !== topic || m.value === null) throw new Error(`unexpected message for ${m.topic}`);
          rows++;
          bytes += m.value.length;
        }
      } else if (item.type === 'commit' && rows >= expected) break;
      else if (item.type === 'abort') throw new Error(`the binlog stream aborted: ${item.reason}`);
    }
  } finally {
    clearTimeout(timer);
    source.close();
  }
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const seconds = (t1 - tFirst) / 1000;
  return {
    rows,
    seconds: round(seconds, 2),
    rows_per_s: Math.round(rows / seconds),
    cpu_us_per_row: round((cpu.user + cpu.system) / Math.max(1, rows), 2),
    ...(host ? host() : { host_busy_pct: NaN, loadavg_1m: NaN }),
    bytes,
    wall_s: round((t1 - wall0) / 1000, 2),
  };
}

/** The worker's config: the bundled cluster, its own topics and groups, only `kind` captured. */
function writeWorkerConfig(name: string, kind: Kind): string {
  const base = readFileSync(bundledClusterConfig, 'utf8').replaceAll(
    '../.shardline',
    path.join(path.dirname(bundledClusterConfig), '..', '.shardline'),
  );
  const exclude = [...Object.keys(config.sharding.tables), ...config.sharding.broadcast];
  const cdc = `
cdc:
  topicPrefix: "${name}."
  checkpointTopic: "${name}._checkpoints"
  signalTopic: "${name}._signals"
  deadLetterTopic: "${name}._dead_letters"
  assignmentTopic: "${name}._instances"
  groupPrefix: "${name}"
  partitions: ${PARTITIONS}
  elasticsearch: { indexPrefix: "${name.toLowerCase()}-" }
  progress: { enabled: false }
  shutdownTimeoutS: 20
  tables:
    include: ["${DB}.${kind}"]
    exclude: [${exclude.map((t) => `"${t}"`).join(', ')}]
`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-bench-stream-'));
  const file = path.join(dir, 'cluster.yaml');
  writeFileSync(file, `${base}\n${cdc}`);
  return file;
}

/** Commits `from` as shard-0's checkpoint in the worker's checkpoint topic (the real CheckpointStore), so that it reads the range. */
async function seedCheckpoint(name: string, from: Checkpoint): Promise<void> {
  const eventLog = new KafkajsEventLog({ brokers: config.kafka.brokers, clientId: `${name}-seed`, security: config.kafka });
  try {
    const topic = `${name}._checkpoints`;
    const index = (i: string) => config.instances.findIndex((x) => x.name === i);
    await eventLog.ensureTopics([
      { topic, partitions: config.instances.length, replicationFactor: config.cdc.replicationFactor, compacted: true },
    ]);
    const producer = await eventLog.transactionalProducer(`${name}-seed`);
    try {
      const txn = await producer.begin();
      await txn.send([new CheckpointStore(eventLog, topic, index).message(from)]);
      await txn.commit();
    } finally {
      await producer.disconnect();
    }
  } finally {
    await eventLog.close();
  }
}

const kafkaClient = (clientId: string) =>
  new kafkajs.Kafka({ clientId, brokers: config.kafka.brokers, logLevel: kafkajs.logLevel.NOTHING });

/**
 * Committed messages and distinct keys of a topic, read with the worker's own consumer (read_committed,
 * its codecs) until `expected` arrived and 2 s passed without more.
 */
async function countCommitted(topic: string, expected: number): Promise<{ messages: number; distinct_keys: number }> {
  const eventLog = new KafkajsEventLog({ brokers: config.kafka.brokers, clientId: `${DB}-verify`, security: config.kafka });
  const consumer = eventLog.consumer({
    groupId: `${topic}-verify`,
    topics: [topic],
    fromBeginning: true,
    partitionsConcurrently: PARTITIONS,
  });
  let messages = 0;
  const keys = new Set<string>();
  let lastAt = performance.now();
  let failed: Error | null = null;
  try {
    void consumer
      .run(async (batch) => {
        for (const m of batch.messages) {
          messages++;
          keys.add(m.key?.toString('utf8') ?? '');
        }
        lastAt = performance.now();
      })
      .catch((err: Error) => (failed = err));
    const deadline = performance.now() + 180_000;
    while (!failed && performance.now() < deadline && !(messages >= expected && performance.now() - lastAt > 2000)) await sleep(200);
  } finally {
    await consumer.stop().catch(() => undefined);
    await eventLog.close();
  }
  if (failed) throw new Error(`reading ${topic} back failed: ${(failed as Error).message}`);
  return { messages, distinct_keys: keys.size };
}

/** Deletes the Kafka topics and consumer groups named `<name>.…` or `<name>-…`. */
async function dropKafka(name: string): Promise<void> {
  const ours = (n: string) => n.startsWith(`${name}.`) || n.startsWith(`${name}-`);
  const admin = kafkaClient(`${DB}-cleanup`).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter(ours);
    if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter(ours);
    if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
    if (topics.length || groups.length) log(`kafka: deleted ${topics.length} topics and ${groups.length} groups of ${name}`);
  } finally {
    await admin.disconnect();
  }
}

/** A real worker reads the range into Kafka with its transactions; first → last committed event. */
async function shardlineKafka(
  kind: Kind,
  from: Checkpoint,
  expected: number,
  r: number,
  verify: boolean,
): Promise<
  SideRun & { startup_s: number; worker_rss_mb: number; verified: { messages: number; distinct_keys: number } | null; sinks: SinkRun[] }
> {
  const name = `${DB}_${kind}_k${r}`;
  const configPath = writeWorkerConfig(name, kind);
  const logFile = path.join(path.dirname(configPath), 'worker.log');
  let child: ChildProcess | null = null;
  try {
    await seedCheckpoint(name, from);
    const fd = openSync(logFile, 'a');
    const tSpawn = performance.now();
    child = spawn(
      process.execPath,
      [
        ...WORKER_NODE_ARGS,
        path.join(root, 'dist/cli/main.js'),
        'cdc',
        '--config',
        configPath,
        '--role',
        'reader',
        '--http-port',
        String(HTTP_PORT),
      ],
      { cwd: root, stdio: ['ignore', fd, fd], env: { ...process.env, SHARDLINE_LOG_LEVEL: 'warn' } },
    );
    const pid = child.pid!;
    let tFirst = 0;
    let tLast = 0;
    let p0 = 0;
    let published = 0;
    let cpu0 = 0;
    let cpu1 = 0;
    let peakRss = 0;
    let host: ReturnType<typeof hostSpan> | undefined;
    let m: Map<string, number> = new Map();
    const deadline = performance.now() + TIMEOUT_S * 1000;
    while (performance.now() < deadline) {
      if (child.exitCode !== null)
        throw new Error(`the worker exited with ${child.exitCode}; log ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
      try {
        m = parseMetrics(await (await fetch(`http://127.0.0.1:${HTTP_PORT}/metrics`)).text());
      } catch {
        await sleep(100);
        continue;
      }
      const now = performance.now();
      published = metric(m, 'shardline_cdc_published_events_total', { instance: INSTANCE });
      if (!tFirst && published > 0) {
        tFirst = now;
        p0 = published;
        cpu0 = procCpuSeconds(pid);
        host = hostSpan();
      }
      if (published >= expected) {
        tLast = now;
        cpu1 = procCpuSeconds(pid);
        break;
      }
      const mem = procMemory(pid);
      if (mem) peakRss = Math.max(peakRss, mem.rssMb, mem.hwmMb);
      await sleep(100);
    }
    if (!tLast) throw new Error(`the worker published ${published} of ${expected} events in ${TIMEOUT_S} s; log ${logFile}`);
    const readRows = metric(m, 'shardline_cdc_rows_total', { instance: INSTANCE, table: kind });
    if (published !== expected || readRows !== expected)
      throw new Error(`the worker read ${readRows} rows and published ${published} events of ${kind}, expected ${expected}`);
    const counted = published - p0;
    if (counted <= 0 || tLast <= tFirst)
      throw new Error(`every event went out in the first Kafka transaction: the range (${expected} rows) is too small to time`);
    const seconds = (tLast - tFirst) / 1000;
    const run = {
      rows: counted,
      seconds: round(seconds, 2),
      rows_per_s: Math.round(counted / seconds),
      cpu_us_per_row: round(((cpu1 - cpu0) * 1e6) / counted, 1),
      ...host!(),
      startup_s: round((tFirst - tSpawn) / 1000, 2),
      worker_rss_mb: round(peakRss, 1),
      verified: null as { messages: number; distinct_keys: number } | null,
      sinks: [] as SinkRun[],
    };
    if (verify) {
      run.verified = await countCommitted(`${name}.${kind}`, expected);
      if (run.verified.messages !== expected || run.verified.distinct_keys !== expected)
        throw new Error(`Kafka topic ${name}.${kind} holds ${JSON.stringify(run.verified)} committed messages, expected ${expected}`);
    }
    if (SINKS) {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child!.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(30_000)]);
      }
      for (const sink of SINK_ROLES) {
        try {
          run.sinks.push(
            await sinkRun({
              sink,
              root,
              configPath,
              table: kind,
              expected,
              httpPort: SINK_HTTP_PORT,
              servicePid: SERVICES[sink],
              nodeArgs: WORKER_NODE_ARGS,
              timeoutS: TIMEOUT_S,
            }),
          );
        } finally {
          await dropSinkTarget(sink, name, kind).catch((err: Error) => log(`clean-up: ${sink} failed: ${err.message}`));
        }
      }
    }
    return run;
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(30_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await dropKafka(name).catch((err: Error) => log(`clean-up: kafka failed: ${err.message}`));
    rmSync(path.dirname(configPath), { recursive: true, force: true });
  }
}

const SINK_ROLES: readonly SinkRole[] = ['elasticsearch', 'archive'];
const SERVICES = servicePids(process.env['SHARDLINE_STATE_DIR'] || path.join(root, '.shardline'));

/** Removes what a sink run wrote: the Elasticsearch indices and templates of the run's prefix, or the archive's table of `kind`. */
async function dropSinkTarget(sink: SinkRole, name: string, kind: Kind): Promise<void> {
  if (sink === 'archive') {
    const archive = config.archive!;
    const conn = await mysql.createConnection({ host: archive.host, port: archive.port, ...adminCreds });
    try {
      await conn.query('DROP TABLE IF EXISTS ??.??', [archive.database, kind]);
    } finally {
      await conn.end();
    }
    return;
  }
  const es = config.elasticsearch!.node;
  const prefix = `${name.toLowerCase()}-`;
  const indices = (await (await fetch(`${es}/_cat/indices/${prefix}*?format=json&h=index`)).json()) as { index: string }[];
  for (const { index } of indices) await fetch(`${es}/${encodeURIComponent(index)}`, { method: 'DELETE' });
  await fetch(`${es}/_index_template/${prefix}*`, { method: 'DELETE' });
}

interface DebeziumTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  publicKeyFile: string;
}

async function debeziumRun(target: DebeziumTarget, kind: Kind, dir: string, expected: number) {
  const host = hostSpan();
  const r = await runDebeziumStream({ ...target, tables: [`${DB}.${kind}`], dir, events: expected, timeoutS: TIMEOUT_S });
  if (r.events !== expected) throw new Error(`Debezium delivered ${r.events} events of ${kind}, expected ${expected}`);
  return debeziumSideRun(r, host());
}

const summary = (runs: SideRun[]) =>
  runs.length
    ? {
        rows_per_s: { median: Math.round(median(runs.map((x) => x.rows_per_s))), ...spread(runs.map((x) => x.rows_per_s)) },
        cpu_us_per_row: {
          median: round(median(runs.map((x) => x.cpu_us_per_row)), 2),
          min: Math.min(...runs.map((x) => x.cpu_us_per_row)),
          max: Math.max(...runs.map((x) => x.cpu_us_per_row)),
        },
        runs,
      }
    : null;

await onCluster(async () => {
  const admin = await mysql.createConnection({ host: inst.host, port: inst.port, ...adminCreds });
  const dbzUser = `shardline_dbz_${process.pid % 100000}`;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'shardline-bench-stream-dbz-'));
  try {
    const build = buildDebezium();
    log(`debezium: ${build.built ? 'built' : 'cached build'}`);
    const creds = OWN_DBZ_USER
      ? await ensureDebeziumUser(admin, dbzUser)
      : { user: inst.replication!.user, password: inst.replication!.password };
    const target: DebeziumTarget = {
      host: inst.host,
      port: inst.port,
      ...creds,
      publicKeyFile: await writeServerPublicKey(admin, path.join(tmp, 'server-key.pem')),
    };
    await admin.query(`DROP DATABASE IF EXISTS ${DB}`);
    await admin.query(`CREATE DATABASE ${DB} CHARACTER SET utf8mb4`);
    for (const kind of KINDS) await admin.query(`CREATE TABLE ${DB}.${kind} (${COLUMNS[kind].create}) ENGINE=InnoDB`);
    log(`${DB} on ${INSTANCE}: narrow ${ROWS.narrow} rows, mixed ${ROWS.mixed} rows, ${TXN_ROWS} rows per transaction, ${ROUNDS} rounds`);

    const results: Record<
      Kind,
      {
        debezium: SideRun[];
        noop: SideRun[];
        kafka: SideRun[];
        sinks: Record<SinkRole, SinkRun[]>;
        binlogBytes: number | null;
        eventBytes: number;
      }
    > = {
      narrow: { debezium: [], noop: [], kafka: [], sinks: { elasticsearch: [], archive: [] }, binlogBytes: null, eventBytes: 0 },
      mixed: { debezium: [], noop: [], kafka: [], sinks: { elasticsearch: [], archive: [] }, binlogBytes: null, eventBytes: 0 },
    };
    for (const kind of KINDS) {
      const expected = ROWS[kind];
      const dir = path.join(tmp, kind);
      const baseline = await prepareDebeziumStreamBaseline({ ...target, tables: [`${DB}.${kind}`], dir, timeoutS: 300 });
      const from = await currentCheckpoint(admin);
      log(
        `${kind}: Debezium baseline ${baseline.offset.gtids ?? `${baseline.offset.file}:${baseline.offset.pos}`}; shardline from ${from.file}:${from.pos}`,
      );
      await writeRows(kind, expected);
      const to = await currentCheckpoint(admin);
      results[kind].binlogBytes = to.file === from.file ? to.pos - from.pos : null;
      const res = results[kind];
      for (let r = 1; r <= ROUNDS; r++) {
        const d = await debeziumRun(target, kind, dir, expected);
        res.debezium.push(d);
        log(
          `${kind} round ${r} debezium: ${d.rows_per_s} rows/s (${d.seconds} s, startup ${d.startup_s} s, ${d.cpu_us_per_row} µs JVM CPU/row, host ${d.host_busy_pct}% busy, load ${d.loadavg_1m})`,
        );
        const s = await shardlineNoop(kind, from, expected);
        if (s.rows !== expected) throw new Error(`shardline decoded ${s.rows} rows of ${kind}, expected ${expected} (Debezium: ${d.rows})`);
        res.noop.push(s);
        res.eventBytes = s.bytes;
        log(
          `${kind} round ${r} shardline no-op: ${s.rows_per_s} rows/s (${s.seconds} s, ${s.cpu_us_per_row} µs CPU/row, ${Math.round(s.bytes / s.rows)} B/event, host ${s.host_busy_pct}% busy, load ${s.loadavg_1m})`,
        );
        if (KAFKA) {
          const k = await shardlineKafka(kind, from, expected, r, r === ROUNDS);
          res.kafka.push(k);
          log(
            `${kind} round ${r} shardline → Kafka: ${k.rows_per_s} rows/s (${k.seconds} s, startup ${k.startup_s} s, ${k.cpu_us_per_row} µs worker CPU/row, RSS ${k.worker_rss_mb} MB, host ${k.host_busy_pct}% busy, load ${k.loadavg_1m})${k.verified ? `; topic holds ${k.verified.messages} committed messages, ${k.verified.distinct_keys} keys` : ''}`,
          );
          for (const x of k.sinks) {
            res.sinks[x.sink].push(x);
            log(
              `${kind} round ${r} Kafka → ${x.sink} sink: ${x.rows_per_s} rows/s (${x.seconds} s, ${x.cpu_us_per_row} µs worker CPU/row, ${x.service_cpu_us_per_row ?? '?'} µs ${x.sink} CPU/row, RSS ${x.worker_rss_mb} MB, host ${x.host_busy_pct}% busy)`,
            );
          }
        }
      }
    }

    const rate = (runs: SideRun[]) => (runs.length ? Math.round(median(runs.map((x) => x.rows_per_s))) : null);
    const ratio = (a: number | null, b: number | null) => (a !== null && b !== null ? round(a / b, 2) : null);
    const [sn, sm] = [rate(results.narrow.noop), rate(results.mixed.noop)];
    const [dn, dm] = [rate(results.narrow.debezium), rate(results.mixed.debezium)];
    const [kn, km] = [rate(results.narrow.kafka), rate(results.mixed.kafka)];
    const result = {
      rows_per_s_narrow: sn,
      rows_per_s_mixed: sm,
      debezium_rows_per_s_narrow: dn,
      debezium_rows_per_s_mixed: dm,
      ratio_vs_debezium_narrow: ratio(sn, dn),
      ratio_vs_debezium_mixed: ratio(sm, dm),
      rows_per_s_to_kafka_narrow: kn,
      rows_per_s_to_kafka_mixed: km,
      ratio_to_kafka_vs_debezium_narrow: ratio(kn, dn),
      ratio_to_kafka_vs_debezium_mixed: ratio(km, dm),
      targets: {
        ratio_vs_debezium_narrow: 5.0,
        ratio_vs_debezium_mixed: 5.0,
        ratio_to_kafka_vs_debezium_narrow: 1.0,
        ratio_to_kafka_vs_debezium_mixed: 1.0,
      },
      cpu_us_per_row: Object.fromEntries(
        KINDS.map((k) => [
          k,
          {
            debezium: round(median(results[k].debezium.map((x) => x.cpu_us_per_row)), 2),
            shardline: round(median(results[k].noop.map((x) => x.cpu_us_per_row)), 2),
            shardline_to_kafka: results[k].kafka.length ? round(median(results[k].kafka.map((x) => x.cpu_us_per_row)), 2) : null,
          },
        ]),
      ),
      sink_cpu_us_per_row: SINKS
        ? Object.fromEntries(
            KINDS.map((k) => [
              k,
              Object.fromEntries(
                SINK_ROLES.map((sink) => {
                  const runs = results[k].sinks[sink];
                  const med = (f: (x: SinkRun) => number | null) => {
                    const xs = runs.map(f).filter((x): x is number => x !== null);
                    return xs.length ? round(median(xs), 1) : null;
                  };
                  return [
                    sink,
                    {
                      worker: med((x) => x.cpu_us_per_row),
                      worker_min: runs.length ? Math.min(...runs.map((x) => x.cpu_us_per_row)) : null,
                      worker_max: runs.length ? Math.max(...runs.map((x) => x.cpu_us_per_row)) : null,
                      service: med((x) => x.service_cpu_us_per_row),
                      rows_per_s: med((x) => x.rows_per_s),
                    },
                  ];
                }),
              ),
            ]),
          )
        : null,
      rows: ROWS,
      rounds: ROUNDS,
      txn_rows: TXN_ROWS,
      partitions: PARTITIONS,
      debezium_account: OWN_DBZ_USER ? 'own' : 'replication',
      binlog_bytes: { narrow: results.narrow.binlogBytes, mixed: results.mixed.binlogBytes },
      event_bytes: { narrow: results.narrow.eventBytes, mixed: results.mixed.eventBytes },
      sides: Object.fromEntries(
        KINDS.map((k) => [
          k,
          {
            debezium: summary(results[k].debezium),
            shardline: summary(results[k].noop),
            shardline_to_kafka: summary(results[k].kafka),
            kafka_to_elasticsearch: summary(results[k].sinks.elasticsearch),
            kafka_to_archive: summary(results[k].sinks.archive),
          },
        ]),
      ),
      statistic:
        'median of the rounds; Debezium: first delivered batch → last event; shardline no-op: first binlog item → last row; to Kafka: first → last committed event',
      cpus: os.availableParallelism(),
      loadavg_1m_at_end: round(os.loadavg()[0] ?? 0, 2),
    };
    console.log(JSON.stringify(result));
  } finally {
    if (process.env['BENCH_KEEP'] === '1') log(`BENCH_KEEP=1: leaving ${DB}`);
    else await admin.query(`DROP DATABASE IF EXISTS ${DB}`).catch((err: Error) => log(`clean-up: ${err.message}`));
    if (OWN_DBZ_USER) await admin.query(`DROP USER IF EXISTS '${dbzUser}'@'%'`).catch(() => undefined);
    await admin.end();
    if (KAFKA) {
      for (const kind of KINDS)
        for (let r = 1; r <= ROUNDS; r++)
          await dropKafka(`${DB}_${kind}_k${r}`).catch((err: Error) => log(`clean-up: kafka failed: ${err.message}`));
    }
    rmSync(tmp, { recursive: true, force: true });
  }
});
