import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ALL_SECTIONS, loadClusterConfig, packageRoot, requireSections, type CdcClusterConfig } from '../../src/config/index.js';
import { KafkajsEventLog, type ChangeEvent, type Checkpoint } from '../../src/cdc/index.js';
import { MultiShardWriteError } from '../../src/errors/index.js';
import { openMysqlSession, type MysqlSession } from '../../src/net/index.js';
import { createRouter, type Router } from '../../src/router/index.js';
import { Topology } from '../../src/shard/index.js';
import { archiveRows, diff, esDocs, sourceRows } from '../support/cdc-equality.js';
import { WorkerProcess, writeCdcTestConfig } from '../support/cdc.js';
import { shardline } from '../support/cluster.js';
import { PrivateService } from '../support/private-services.js';

/**
 * The CDC worker reads XA transactions: atomic (XA) multi-shard writes of the router spanning a
 * MySQL 8.0 and a MariaDB 10.11 instance, a rolled-back atomic write, and a kill -9 of the
 * worker between XA PREPARE and XA COMMIT of branches held by hand. Private servers: XA on the
 * shared shards would stop the readers of workers that run older code.
 */
const NAME = `it_cdcxa_${process.pid}`;
const servers = {
  mysql: new PrivateService({ name: 'cx-mysql', kind: 'mysql', port: 3371, serverId: 71 }),
  mariadb: new PrivateService({ name: 'cx-mariadb', kind: 'mariadb', port: 3372, serverId: 72 }),
};
const BASE = 11_000_000_000n + BigInt(process.pid % 1000) * 1_000_000n;
const TO = BASE + 5_000n;
let configPath: string;
let config: CdcClusterConfig;
let topology: Topology;
let router: Router;
let worker: WorkerProcess;

function writeConfig(): string {
  const file = writeCdcTestConfig(NAME);
  const instance = (s: PrivateService, flavour: string) => `  - name: ${s.options.name}
    flavour: ${flavour}
    host: 127.0.0.1
    port: ${s.options.port}
    user: shardline
    password: shardline
    replication: { user: shardline_repl, password: shardline }
    serverId: ${s.options.serverId}
${flavour === 'mysql' ? `    serverPublicKey: ${path.join(s.dataDir, 'public_key.pem')}\n` : ''}`;
  const text = readFileSync(file, 'utf8')
    .replace(
      /^instances:\n[\s\S]*?(?=^archive:)/m,
      `instances:\n${instance(servers.mysql, 'mysql')}${instance(servers.mariadb, 'mariadb')}\n`,
    )
    .replace(
      /^sharding:\n[\s\S]*?(?=^pool:)/m,
      `sharding:
  shards: 8
  databases: 2
  map:
    version: 1
    ranges:
      - { from: 0, to: 3, instance: cx-mysql }
      - { from: 4, to: 7, instance: cx-mariadb }
  tables:
    users: { shardKey: uid }
    orders: { shardKey: uid }
  broadcast: [countries]

`,
    );
  writeFileSync(file, text);
  return file;
}

/** `n` uids from `from` on: every shard in turn, so both instances. */
function uidsFrom(from: bigint, n: number): bigint[] {
  const out: bigint[] = [];
  const shards = new Set<number>();
  for (let u = from; out.length < n; u++) {
    const s = topology.shardOf(u);
    if (shards.size < 8 && shards.has(s)) continue;
    shards.add(s);
    out.push(u);
  }
  return out;
}
const flavourOf = (uid: bigint): keyof typeof servers => (topology.locate(uid).instance === 'cx-mysql' ? 'mysql' : 'mariadb');
const insertUsers = (uids: readonly bigint[], name: string) =>
  [
    `INSERT INTO users (uid, name, email, balance) VALUES ${uids.map(() => '(?, ?, NULL, ?)').join(', ')}`,
    uids.flatMap((u) => [u, name, `${u % 1000n}.25`]),
  ] as const;

/** Waits until Elasticsearch and the archive hold exactly the source's users of the test's range. */
async function expectSinksEqual(timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let problems: string[];
  do {
    const source = await sourceRows(router, 'users', ['uid'], BASE, TO);
    try {
      problems = [
        ...diff(source, await esDocs(config.elasticsearch.node, `${NAME}-users`, BASE, TO), 'es users'),
        ...diff(source, (await archiveRows(config, `${NAME}_archive`, 'users', ['uid'], BASE, TO)).live, 'archive users'),
      ];
    } catch (err) {
      problems = [`sinks not ready: ${String(err)}`]; // the index or the archive table is not there yet
    }
    if (problems.length) await new Promise((r) => setTimeout(r, 500));
  } while (problems.length && Date.now() < deadline);
  expect(problems).toEqual([]);
}

async function kafkaEvents(): Promise<ChangeEvent[]> {
  const log = new KafkajsEventLog({ brokers: config.kafka.brokers, clientId: `${NAME}-check` });
  try {
    return (await log.readToEnd(`${NAME}.users`)).map((m) => JSON.parse(m.value!.toString('utf8')) as ChangeEvent);
  } finally {
    await log.close();
  }
}

async function committedCheckpoints(): Promise<Map<string, Checkpoint>> {
  const log = new KafkajsEventLog({ brokers: config.kafka.brokers, clientId: `${NAME}-cp` });
  try {
    const out = new Map<string, Checkpoint>();
    for (const m of await log.readToEnd(`${NAME}._checkpoints`))
      if (m.key && m.value) out.set(m.key.toString('utf8'), JSON.parse(m.value.toString('utf8')) as Checkpoint);
    return out;
  } finally {
    await log.close();
  }
}

beforeAll(async () => {
  await Promise.all(Object.values(servers).map((s) => s.start()));
  configPath = writeConfig();
  config = requireSections(loadClusterConfig(configPath), ALL_SECTIONS, 'the CDC XA test');
  topology = new Topology(
    config.sharding,
    config.instances.map((i) => i.name),
  );
  shardline('migrate', '--config', configPath, '--dir', path.join(packageRoot, 'migrations'));
  router = await createRouter(config);
  worker = new WorkerProcess(configPath, 19490);
  worker.start();
  await worker.waitReading(config.instances.map((i) => i.name));
}, 240_000);

afterAll(async () => {
  await worker?.stop();
  await router?.close();
  await Promise.all(Object.values(servers).map((s) => s.destroy()));
});

const committed: bigint[] = [];
const rolledBack: bigint[] = [];

it('atomic writes across MySQL and MariaDB reach Elasticsearch and the archive; a rolled-back one never', async () => {
  for (let r = 0; r < 6; r++) {
    const uids = uidsFrom(BASE + BigInt(r) * 100n, 8);
    expect(new Set(uids.map(flavourOf)).size).toBe(2);
    await router.query(...insertUsers(uids, `xa ${r}`), { atomic: true });
    committed.push(...uids);
  }
  const some = committed.slice(0, 12);
  await router.query(`UPDATE users SET balance = balance + 1, name = 'xa updated' WHERE uid IN (${some.map(() => '?').join(', ')})`, some, {
    atomic: true,
  });
  const gone = committed.slice(40, 44);
  await router.query(`DELETE FROM users WHERE uid IN (${gone.map(() => '?').join(', ')})`, gone, { atomic: true });
  // a duplicate key on the MariaDB instance rolls back every branch
  const fresh = uidsFrom(BASE + 1000n, 8);
  const dup = committed.find((u) => flavourOf(u) === 'mariadb' && !gone.includes(u))!;
  const err = await router.query(...insertUsers([...fresh, dup], 'never'), { atomic: true }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(MultiShardWriteError);
  rolledBack.push(...fresh);
  await expectSinksEqual();
  const events = await kafkaEvents();
  expect(events.filter((e) => rolledBack.includes(BigInt(String((e.after ?? e.before)!['uid']))))).toEqual([]);
  expect(events.filter((e) => e.op === 'u' && e.after?.['name'] === 'xa updated')).toHaveLength(12);
  expect(events.filter((e) => e.op === 'd')).toHaveLength(4);
}, 180_000);

it('kill -9 of the worker between XA PREPARE and XA COMMIT: the branch is delivered once after the restart', async () => {
  const sessions = new Map<string, MysqlSession>();
  const held = { commit: uidsFrom(BASE + 2000n, 8), rollback: uidsFrom(BASE + 3000n, 8) };
  const hold = async (gtrid: string, uids: bigint[]) => {
    for (const f of ['mysql', 'mariadb'] as const) {
      const server = servers[f];
      const s = await openMysqlSession({ socketPath: server.dir.socket(server.options.name), user: 'root', password: '' });
      sessions.set(`${gtrid}/${f}`, s);
      await s.query(`XA START '${gtrid}', '${f}', 7`);
      for (const u of uids.filter((x) => flavourOf(x) === f)) {
        const table = topology.names.qualified('users', topology.locate(u).shard);
        await s.query(`INSERT INTO ${table} (uid, name, email, balance) VALUES (?, ?, NULL, '1.50')`, [u, `held ${gtrid}`]);
      }
      await s.query(`XA END '${gtrid}', '${f}', 7`);
      await s.query(`XA PREPARE '${gtrid}', '${f}', 7`);
    }
  };
  const finish = async (verb: 'COMMIT' | 'ROLLBACK', gtrid: string) => {
    for (const f of ['mysql', 'mariadb'] as const) {
      const s = sessions.get(`${gtrid}/${f}`)!;
      await s.query(`XA ${verb} '${gtrid}', '${f}', 7`);
      await s.close();
    }
  };
  await hold('h14-commit', held.commit);
  await hold('h14-rollback', held.rollback);
  // ordinary writes after the prepares: the worker commits checkpoints past them to Kafka
  const after = uidsFrom(BASE + 4000n, 8);
  await router.query(...insertUsers(after, 'after prepare'));
  committed.push(...after);
  await expectSinksEqual();
  const cps = await committedCheckpoints();
  for (const i of ['cx-mysql', 'cx-mariadb']) expect(cps.get(i)?.resume).toBeDefined();

  worker.kill9();
  await worker.exited();
  const meanwhile = uidsFrom(BASE + 4100n, 8);
  await router.query(...insertUsers(meanwhile, 'while down'));
  committed.push(...meanwhile);
  await finish('COMMIT', 'h14-commit');
  await finish('ROLLBACK', 'h14-rollback');
  committed.push(...held.commit);
  rolledBack.push(...held.rollback);
  worker.start();
  await worker.waitReading(config.instances.map((i) => i.name));
  const last = uidsFrom(BASE + 4200n, 8);
  await router.query(...insertUsers(last, 'after restart'), { atomic: true });
  committed.push(...last);

  await expectSinksEqual();
  const source = await sourceRows(router, 'users', ['uid'], BASE, TO);
  for (const u of held.commit) expect(source.get(String(u))?.['name']).toBe('held h14-commit');
  const events = await kafkaEvents();
  const creates = new Map<string, number>();
  for (const e of events) if (e.op === 'c') creates.set(String(e.after!['uid']), (creates.get(String(e.after!['uid'])) ?? 0) + 1);
  expect(committed.filter((u) => creates.get(String(u)) !== 1)).toEqual([]);
  expect(rolledBack.filter((u) => creates.has(String(u)))).toEqual([]);
  const at = new Map<string, number>();
  for (const e of events) {
    const k = `${e.source.instance}:${e.source.file}:${e.source.pos}:${e.source.row}`;
    at.set(k, (at.get(k) ?? 0) + 1);
  }
  expect([...at].filter(([, n]) => n > 1)).toEqual([]);
  // the held branch carries its commit's GTID on both servers
  const heldEvents = events.filter((e) => e.op === 'c' && e.after!['name'] === 'held h14-commit');
  expect(heldEvents).toHaveLength(8);
  expect(new Set(heldEvents.map((e) => e.source.instance))).toEqual(new Set(['cx-mysql', 'cx-mariadb']));
  const finalCps = await committedCheckpoints();
  for (const i of ['cx-mysql', 'cx-mariadb']) expect(finalCps.get(i)?.resume).toBeUndefined();
  expect(worker.log()).not.toMatch(/"level":50/);
}, 240_000);
