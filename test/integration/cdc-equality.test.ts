import { readFileSync, writeFileSync } from 'node:fs';
import { ALL_SECTIONS, requireSections } from '../../src/config/index.js';
import kafkajs from '../support/kafkajs-lz4.js';
import { createRouter, loadClusterConfig, type Router } from '../../src/index.js';
import { Topology } from '../../src/shard/index.js';
import { archiveRows, diff, esDocs, sourceRows } from '../support/cdc-equality.js';
import { WorkerProcess, writeCdcTestConfig } from '../support/cdc.js';
import { randomWorkload, uidsCoveringShards } from '../support/cdc-workload.js';
import { shardline } from '../support/cluster.js';

const { Kafka, logLevel } = kafkajs;
const NAME = `it_eq_${process.pid}`;
const configPath = writeCdcTestConfig(NAME);
const config = requireSections(loadClusterConfig(configPath), ALL_SECTIONS, 'the CDC tests');
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
const BASE = 8_100_000_000n + BigInt(process.pid % 1000) * 1_000_000n;
const worker = new WorkerProcess(configPath, 19464);
let router: Router;

beforeAll(async () => {
  shardline('migrate');
  router = await createRouter(config);
  worker.start();
  await worker.waitReading(config.instances.map((i) => i.name));
});

afterAll(async () => {
  await worker.stop();
  await router?.close();
});

async function converge(check: () => Promise<string[]>, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let problems = await check();
  while (problems.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    problems = await check();
  }
  return problems;
}

/** Polls `done` until it holds; fails naming what it waited for. */
async function until(done: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The end offset of every partition of a Kafka topic, by partition. */
async function topicEndOffsets(topic: string): Promise<Record<number, string>> {
  const admin = new Kafka({ clientId: `${NAME}-offsets`, brokers: config.kafka.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]));
  } finally {
    await admin.disconnect();
  }
}

it('source rows = Elasticsearch documents = archive rows after a random workload over all 1024 shards', async () => {
  const uids = uidsCoveringShards(topology, BASE, 2);
  const to = uids[uids.length - 1]!;
  const shardsByInstance = new Map<string, number>();
  for (const u of uids) shardsByInstance.set(topology.locate(u).instance, (shardsByInstance.get(topology.locate(u).instance) ?? 0) + 1);
  expect([...shardsByInstance.keys()].sort()).toEqual(['shard-0', 'shard-1', 'shard-2', 'shard-3']);

  const work = await randomWorkload(router, uids, 7);
  expect(work.inserted).toBe(2048);

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
  expect(await converge(check, 90_000)).toEqual([]);

  const archive = await archiveRows(config, `${NAME}_archive`, 'users', ['uid'], BASE, to);
  expect(archive.deleted.size).toBe(work.deleted - work.reinserted);
  expect(archive.live.size + archive.deleted.size).toBe(2048);

  const metrics = await worker.metrics();
  expect(metrics).toMatch(/shardline_cdc_rows_total\{instance="shard-2",table="users"\} \d+/);
  expect(metrics).toMatch(/shardline_cdc_lag_seconds\{instance="shard-0"\}/);
});

it('SIGHUP reloads the table filters without dropping the replication connections', async () => {
  const before = await worker.metrics();
  const reconnects = (text: string) =>
    [...text.matchAll(/shardline_cdc_reconnects_total\{[^}]*\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  const reloads = () => worker.log().split('configuration reloaded').length - 1;
  const reloadsBefore = reloads();
  const ordersOffsets = await topicEndOffsets(`${NAME}.orders`);
  writeFileSync(configPath, readFileSync(configPath, 'utf8').replace('cdc:\n', 'cdc:\n  tables: { exclude: [orders] }\n'));
  worker.signal('SIGHUP');
  await until(async () => reloads() > reloadsBefore, 10_000, 'the worker to log the reload');
  // The excluded write, then a barrier in a captured table: one uid, one shard, so the barrier
  // follows the order in the binlog and the reader has passed the order once the barrier arrives.
  const uid = BASE + 999_000n;
  await router.query("INSERT INTO orders (uid, order_id, amount, status) VALUES (?, 1, '2.00', 'new')", [uid]);
  await router.query("INSERT INTO users (uid, name, balance) VALUES (?, 'after reload', '1.00')", [uid]);
  await until(
    async () => (await esDocs(config.elasticsearch.node, `${NAME}-users`, uid, uid)).size === 1,
    30_000,
    'the barrier row in Elasticsearch',
  );
  await until(
    async () => (await archiveRows(config, `${NAME}_archive`, 'users', ['uid'], uid, uid)).live.size === 1,
    30_000,
    'the barrier row in the archive',
  );
  // Messages are produced in binlog order: nothing reached the orders topic, so no sink can have it.
  expect(await topicEndOffsets(`${NAME}.orders`)).toEqual(ordersOffsets);
  expect((await esDocs(config.elasticsearch.node, `${NAME}-orders`, uid, uid)).size).toBe(0);
  expect((await archiveRows(config, `${NAME}_archive`, 'orders', ['uid', 'order_id'], uid, uid)).live.size).toBe(0);
  const after = await worker.metrics();
  expect(reconnects(after)).toBe(reconnects(before));
  await router.query('DELETE FROM orders WHERE uid = ?', [uid]);
  await router.query('DELETE FROM users WHERE uid = ?', [uid]);
});

it('SIGTERM: finishes, commits and exits 0 within the shutdown bound', async () => {
  const { code, ms } = await worker.stop();
  expect(code).toBe(0);
  expect(ms).toBeLessThan(20_000);
});
