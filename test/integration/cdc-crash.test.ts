import { createRouter, loadClusterConfig, type Router } from '../../src/index.js';
import { ALL_SECTIONS, requireSections } from '../../src/config/index.js';
import { KafkajsEventLog } from '../../src/cdc/index.js';
import type { ChangeEvent } from '../../src/cdc/index.js';
import { Topology } from '../../src/shard/index.js';
import { archiveRows, diff, esDocs, sourceRows } from '../support/cdc-equality.js';
import { WorkerProcess, writeCdcTestConfig } from '../support/cdc.js';
import { prng, uidsCoveringShards } from '../support/cdc-workload.js';
import { shardline } from '../support/cluster.js';

const NAME = `it_crash_${process.pid}`;
const configPath = writeCdcTestConfig(NAME);
const config = requireSections(loadClusterConfig(configPath), ALL_SECTIONS, 'the CDC tests');
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
const BASE = 8_200_000_000n + BigInt(process.pid % 1000) * 1_000_000n;
const worker = new WorkerProcess(configPath, 19465);
const KILLS = 10;
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

/** Writes until stopped: new users and orders, updates and deletes of earlier ones, some in transactions. */
async function writeUntil(stop: () => boolean, uids: readonly bigint[]): Promise<{ written: bigint[]; statements: number }> {
  const rnd = prng(11);
  const written: bigint[] = [];
  let statements = 0;
  let next = 0;
  while (!stop() && next < uids.length) {
    const batch = uids.slice(next, next + 32);
    next += batch.length;
    await router.query(
      `INSERT INTO users (uid, name, email, balance) VALUES ${batch.map(() => '(?, ?, NULL, ?)').join(', ')}`,
      batch.flatMap((u) => [u, `crash ${u}`, `${u % 1000n}.25`]),
    );
    await router.query(
      `INSERT INTO orders (uid, order_id, amount, status, created_at) VALUES ${batch.map(() => "(?, 1, '3.00', 'new', NOW(6))").join(', ')}`,
      batch,
    );
    written.push(...batch);
    statements += 2;
    for (let k = 0; k < 8; k++) {
      const u = written[Math.floor(rnd() * written.length)]!;
      if (rnd() < 0.7) {
        await router.forUid(u).transaction(async (tx) => {
          await tx.query('UPDATE users SET balance = balance + 1, updated_at = NOW(6) WHERE uid = ?', [u]);
          await tx.query("UPDATE orders SET status = 'paid' WHERE uid = ?", [u]);
        });
      } else {
        await router.query('DELETE FROM users WHERE uid = ?', [u]);
      }
      statements++;
    }
  }
  return { written, statements };
}

it(`kill -9 of the worker ${KILLS} times under load: no loss, no transaction twice for read_committed consumers`, async () => {
  const uids = uidsCoveringShards(topology, BASE, 4);
  const to = uids[uids.length - 1]!;
  let done = false;
  const load = writeUntil(() => done, uids);
  const rnd = prng(5);
  for (let k = 0; k < KILLS; k++) {
    await new Promise((r) => setTimeout(r, 300 + rnd() * 2500));
    worker.kill9();
    await worker.exited();
    worker.start();
    await worker.waitReading(
      config.instances.map((i) => i.name),
      90_000,
    );
  }
  done = true;
  const { written, statements } = await load;
  expect(written.length).toBeGreaterThan(200);
  expect(statements).toBeGreaterThan(100);
  expect(worker.starts).toBe(KILLS + 1);

  const pk = { users: ['uid'], orders: ['uid', 'order_id'] } as const;
  const deadline = Date.now() + 120_000;
  let problems: string[];
  do {
    problems = [];
    for (const table of ['users', 'orders'] as const) {
      const source = await sourceRows(router, table, pk[table], BASE, to);
      problems.push(...diff(source, await esDocs(config.elasticsearch.node, `${NAME}-${table}`, BASE, to), `es ${table}`));
      problems.push(...diff(source, (await archiveRows(config, `${NAME}_archive`, table, pk[table], BASE, to)).live, `archive ${table}`));
    }
    if (problems.length) await new Promise((r) => setTimeout(r, 1000));
  } while (problems.length && Date.now() < deadline);
  expect(problems).toEqual([]);

  const log = new KafkajsEventLog({ brokers: config.kafka.brokers, clientId: 'crash-test' });
  try {
    const seen = new Map<string, number>();
    let events = 0;
    for (const table of ['users', 'orders']) {
      for (const m of await log.readToEnd(`${NAME}.${table}`)) {
        const e = JSON.parse(m.value!.toString('utf8')) as ChangeEvent;
        const at = `${e.source.instance}:${e.source.file}:${e.source.pos}:${e.source.row}`;
        seen.set(at, (seen.get(at) ?? 0) + 1);
        events++;
      }
    }
    const twice = [...seen].filter(([, n]) => n > 1);
    expect(twice).toEqual([]);
    expect(events).toBeGreaterThan(written.length);
  } finally {
    await log.close();
  }
}, 400_000);
