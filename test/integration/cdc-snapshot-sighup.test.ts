import { readFileSync, writeFileSync } from 'node:fs';
import { ALL_SECTIONS, requireSections } from '../../src/config/index.js';
import { createRouter, loadClusterConfig, type Router } from '../../src/index.js';
import { Topology } from '../../src/shard/index.js';
import { archiveRows, diff, esDocs, sourceRows } from '../support/cdc-equality.js';
import { WorkerProcess, writeCdcTestConfig } from '../support/cdc.js';
import { esDocsOrNone } from '../support/cdc-faults.js';
import { uidsCoveringShards } from '../support/cdc-workload.js';
import { shardline } from '../support/cluster.js';

const NAME = `it_snaphup_${process.pid}`;
const configPath = writeCdcTestConfig(NAME, { snapshot: '{ mode: when_needed, chunkRows: 1000, tablesPerInstance: 2 }' });
// orders (and users, to keep the initial snapshot small) are left out of the capture filter at the start.
writeFileSync(configPath, readFileSync(configPath, 'utf8').replace('\ncdc:\n', '\ncdc:\n  tables: { exclude: [orders, users] }\n'));
const config = requireSections(loadClusterConfig(configPath), ALL_SECTIONS, 'the SIGHUP snapshot test');
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
const BASE = 8_700_000_000n + BigInt(process.pid % 1000) * 1_000_000n;
const worker = new WorkerProcess(configPath, 19484);
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
    await new Promise((r) => setTimeout(r, 500));
  }
}

it('a table that enters the capture filter by SIGHUP is snapshotted (cdc.snapshot.mode when_needed)', async () => {
  const uids = uidsCoveringShards(topology, BASE, 1);
  const to = uids[uids.length - 1]!;
  // Rows that exist before the worker's first start: orders reach the sinks only once captured.
  for (let i = 0; i < uids.length; i += 128) {
    const batch = uids.slice(i, i + 128);
    await router.query(`INSERT INTO users (uid, name, balance) VALUES ${batch.map(() => "(?, 'pre', '1.00')").join(', ')}`, batch);
    await router.query(
      `INSERT INTO orders (uid, order_id, amount, status, created_at) VALUES ${batch.map(() => "(?, 1, '2.00', 'new', NOW(6))").join(', ')}`,
      batch,
    );
  }
  worker.start();
  const lines = () =>
    worker
      .log()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const done = () => lines().filter((l) => l['msg'] === 'snapshot done').length;
  await until(() => done() >= config.instances.length, 240_000, 'the initial snapshots');
  expect((await esDocsOrNone(config.elasticsearch.node, `${NAME}-orders`, BASE, to)).size).toBe(0);

  writeFileSync(
    configPath,
    readFileSync(configPath, 'utf8').replace('  tables: { exclude: [orders, users] }\n', '  tables: { exclude: [users] }\n'),
  );
  worker.signal('SIGHUP');
  await until(
    () => lines().some((l) => l['msg'] === 'tables entered the capture filter: snapshotting them (cdc.snapshot.mode when_needed)'),
    20_000,
    'the snapshot request',
  );
  const pk = ['uid', 'order_id'];
  await until(
    async () => {
      const source = await sourceRows(router, 'orders', pk, BASE, to);
      const es = await esDocsOrNone(config.elasticsearch.node, `${NAME}-orders`, BASE, to);
      const archive = await archiveRows(config, `${NAME}_archive`, 'orders', pk, BASE, to);
      return diff(source, es, 'es').length === 0 && diff(source, archive.live, 'archive').length === 0;
    },
    240_000,
    'orders in Elasticsearch and the archive',
  );
  expect((await esDocs(config.elasticsearch.node, `${NAME}-orders`, BASE, to)).size).toBe(1024);
  expect(lines().filter((l) => l['msg'] === 'snapshot running' && l['kind'] === 'incremental').length).toBe(config.instances.length);
}, 600_000);
