import { createRouter, loadClusterConfig, type Router } from '../../src/index.js';
import { Topology } from '../../src/shard/index.js';
import { archiveRows, diff, esDocs, sourceRows } from '../support/cdc-equality.js';
import { WorkerProcess, writeCdcTestConfig } from '../support/cdc.js';
import { randomWorkload, uidsCoveringShards } from '../support/cdc-workload.js';
import { shardline } from '../support/cluster.js';

const NAME = `it_eq_${process.pid}`;
const configPath = writeCdcTestConfig(NAME);
const config = loadClusterConfig(configPath);
const topology = new Topology(config.sharding, config.instances.map((i) => i.name));
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

it('SIGTERM: finishes, commits and exits 0 within the shutdown bound', async () => {
  const { code, ms } = await worker.stop();
  expect(code).toBe(0);
  expect(ms).toBeLessThan(20_000);
});
