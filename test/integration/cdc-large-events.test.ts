import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { ALL_SECTIONS, requireSections } from '../../src/config/index.js';
import { loadClusterConfig } from '../../src/index.js';
import { openMysqlSession, type MysqlSession } from '../../src/net/index.js';
import { Topology } from '../../src/shard/index.js';
import { WorkerProcess, writeCdcTestConfig } from '../support/cdc.js';

// Rows whose change events are large, and transactions whose events are many: the broker refuses
// a record batch over the topic's max.message.bytes. The readers send a partition's records in
// requests of at most 512 KiB, create the change topics with cdc.maxEventBytes as their limit, and
// stop typed (KAFKA_MESSAGE_TOO_LARGE, not retried forever) on an event larger than that.
const NAME = `it_bigev_${process.pid}`;
const LIMIT = 1024 * 1024;
const configPath = writeCdcTestConfig(NAME);
writeFileSync(
  configPath,
  readFileSync(configPath, 'utf8')
    .replace('    orders: { shardKey: uid }\n', '    orders: { shardKey: uid }\n    blobs: { shardKey: uid }\n')
    .replace('\ncdc:\n', `\ncdc:\n  maxEventBytes: ${LIMIT}\n  tables: { include: [blobs] }\n`),
);
const config = requireSections(loadClusterConfig(configPath), ALL_SECTIONS, 'the large events test');
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
const worker = new WorkerProcess(configPath, 19491);
const sessions = new Map<string, MysqlSession>();
const created: { instance: string; table: string }[] = [];

/** Creates blobs' physical table of `shard` (dropped after the test). */
async function createBlobs(shard: number): Promise<string> {
  const instance = topology.map.instanceOf(shard);
  const table = topology.names.qualified('blobs', shard);
  await (
    await session(instance)
  ).query(`CREATE TABLE IF NOT EXISTS ${table} (uid BIGINT UNSIGNED, seq INT, body LONGTEXT, PRIMARY KEY (uid, seq))`);
  created.push({ instance, table });
  return table;
}

/** A UID whose shard is on `instance`, and the physical table of blobs for it. */
async function blobsTableFor(instance: string, from: bigint): Promise<{ uid: bigint; table: string }> {
  for (let uid = from; ; uid++) {
    const loc = topology.locate(uid);
    if (loc.instance === instance) return { uid, table: await createBlobs(loc.shard) };
  }
}

async function session(instance: string): Promise<MysqlSession> {
  let s = sessions.get(instance);
  if (!s) {
    const i = config.instances.find((x) => x.name === instance)!;
    s = await openMysqlSession({ host: i.host, port: i.port, user: i.user, password: i.password });
    sessions.set(instance, s);
  }
  return s;
}

async function esCount(): Promise<number> {
  const res = await fetch(`${config.elasticsearch.node}/${NAME}-blobs/_count`).catch(() => null);
  if (!res || res.status === 404) return 0;
  return ((await res.json()) as { count: number }).count;
}

async function until(done: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; worker log: ${worker.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

afterAll(async () => {
  await worker.stop();
  for (const c of created) await (await session(c.instance)).query(`DROP TABLE IF EXISTS ${c.table}`).catch(() => undefined);
  for (const s of sessions.values()) await s.close();
});

it('publishes a 10 MB transaction and a 700 kB row under a 1 MiB topic limit; a 1.5 MB row stops its reader typed', async () => {
  const [a, b] = config.instances.map((i) => i.name) as [string, string];
  // the sinks learn a table's columns from shard 0's physical table
  await createBlobs(0);
  const wide = await blobsTableFor(a, 9_500_000_000n);
  const big = await blobsTableFor(b, 9_500_000_000n);
  worker.start();
  await worker.waitReading([a, b]);

  // 1,200 rows of 8 kB of text LZ4 barely compresses in one source transaction: ~2 MB per
  // partition in each send of 1,000 events, over the topics' 1 MiB
  const s = await session(a);
  const values = Array.from({ length: 1200 }, (_, i) => [wide.uid, i, randomBytes(6000).toString('base64')]);
  await s.query(`INSERT INTO ${wide.table} (uid, seq, body) VALUES ${values.map(() => '(?, ?, ?)').join(', ')}`, values.flat());
  await s.query(`INSERT INTO ${wide.table} (uid, seq, body) VALUES (?, ?, ?)`, [
    wide.uid,
    100_000,
    randomBytes(520_000).toString('base64'),
  ]);
  await until(async () => (await esCount()) === 1201, 120_000, '1,201 documents in Elasticsearch');

  // an event over cdc.maxEventBytes: the reader of b stops with a typed error; a's goes on
  await (
    await session(b)
  ).query(`INSERT INTO ${big.table} (uid, seq, body) VALUES (?, 1, ?)`, [big.uid, randomBytes(1_100_000).toString('base64')]);
  await until(
    async () => {
      const health = (await (await fetch(`http://127.0.0.1:19491/healthz`)).json()) as { failed: Record<string, string> };
      return health.failed[b] !== undefined;
    },
    60_000,
    `the reader of ${b} to stop`,
  );
  const health = (await (await fetch(`http://127.0.0.1:19491/healthz`)).json()) as { ok: boolean; failed: Record<string, string> };
  expect(health.ok).toBe(false);
  expect(health.failed[b]).toMatch(
    /^KAFKA_MESSAGE_TOO_LARGE: a change event of \d+ bytes for topic .*blobs is larger than cdc\.maxEventBytes \(1048576\)/,
  );
  expect(Object.keys(health.failed)).toEqual([b]);
  await s.query(`INSERT INTO ${wide.table} (uid, seq, body) VALUES (?, ?, 'after')`, [wide.uid, 100_001]);
  await until(async () => (await esCount()) === 1202, 60_000, 'the next row of the other instance');
  expect(worker.log()).not.toMatch(/"instance":"[^"]+","code":"KAFKA","err":"cannot send in the Kafka transaction/);
}, 300_000);
