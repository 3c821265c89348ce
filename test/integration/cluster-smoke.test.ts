import { randomUUID } from 'node:crypto';
import { Client as EsClient } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { openMysqlSession } from '../../src/net/index.js';
import { archiveSession } from '../support/archive-session.js';
import { devStatusJson, shardline, testConfig } from '../support/cluster.js';

const config = testConfig();
const status = devStatusJson();
const replicas = config.instances.flatMap((inst) => (inst.replicas ?? []).map((r) => [inst, r] as const));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('dev status --json', () => {
  it('lists every service healthy with the contract fields', () => {
    expect(status.map((s) => s.name)).toEqual([
      ...config.instances.map((i) => i.name),
      ...replicas.map(([, r]) => r.name),
      config.archive.name,
      'kafka',
      'elasticsearch',
    ]);
    for (const row of status) {
      expect(Object.keys(row).sort()).toEqual(['healthy', 'host', 'kind', 'name', 'pid', 'port', 'replica_of', 'role', 'version']);
      expect(row.healthy).toBe(true);
      expect(['mysql', 'mariadb', 'kafka', 'elasticsearch']).toContain(row.kind);
      expect(['shard', 'replica', 'archive', 'kafka', 'search']).toContain(row.role);
      expect(row.version).toMatch(/^\d+\.\d+/);
    }
  });

  it('lists a read replica per shard instance with role "replica", replica_of and its primary flavour and version', () => {
    // every instance that holds shards has one; shard-4 (no shard: the target of shard moves) has none
    expect(replicas.map(([i]) => i.name)).toEqual(config.instances.filter((i) => i.name !== 'shard-4').map((i) => i.name));
    for (const [inst, r] of replicas) {
      const row = status.find((s) => s.name === r.name)!;
      const primary = status.find((s) => s.name === inst.name)!;
      expect(row).toMatchObject({
        role: 'replica',
        replica_of: inst.name,
        kind: inst.flavour,
        host: r.host,
        port: r.port,
        version: primary.version,
      });
    }
    expect(status.filter((s) => s.role !== 'replica').every((s) => s.replica_of === null)).toBe(true);
  });

  it('a second dev up starts nothing and keeps the same processes', () => {
    const out = shardline('dev', 'up');
    expect(out).toMatch(/all services already healthy; started nothing/);
    expect(devStatusJson().map((s) => s.pid)).toEqual(status.map((s) => s.pid));
  });
});

describe.each(config.instances.map((i) => [i.name, i] as const))('shard instance %s', (_name, inst) => {
  const expected = status.find((s) => s.name === inst.name)!;

  it('reports its flavour, version and the binlog settings CDC needs', async () => {
    const session = await openMysqlSession({
      host: inst.host,
      port: inst.port,
      tls: inst.tls,
      serverPublicKey: inst.serverPublicKey,
      user: inst.user,
      password: inst.password,
    });
    try {
      const [row] = await session.query<Record<string, string | number>>(
        'SELECT VERSION() AS version, @@log_bin AS log_bin, @@binlog_format AS format, @@binlog_row_image AS image, @@binlog_row_metadata AS metadata, @@server_id AS server_id',
      );
      expect(/mariadb/i.test(String(row!['version']))).toBe(inst.flavour === 'mariadb');
      expect(String(row!['version']).startsWith(expected.version)).toBe(true);
      if (expected.pid !== null && inst.dev) expect(String(row!['version']).startsWith(`${inst.dev.version}.`)).toBe(true);
      expect(Number(row!['log_bin'])).toBe(1);
      expect(row!['format']).toBe('ROW');
      expect(row!['image']).toBe('FULL');
      expect(row!['metadata']).toBe('FULL');
      expect(Number(row!['server_id'])).toBe(inst.serverId);
      if (inst.flavour === 'mysql') {
        const [gtid] = await session.query<Record<string, string>>('SELECT @@gtid_mode AS mode, @@enforce_gtid_consistency AS enforce');
        expect(gtid).toEqual({ mode: 'ON', enforce: 'ON' });
      } else {
        const [gtid] = await session.query<Record<string, string | number>>('SELECT @@gtid_strict_mode AS strict');
        expect(Number(gtid!['strict'])).toBe(1);
      }
    } finally {
      await session.close();
    }
  });

  it('lets the replication account read binlog coordinates', async () => {
    const session = await openMysqlSession({
      host: inst.host,
      port: inst.port,
      tls: inst.tls,
      serverPublicKey: inst.serverPublicKey,
      ...inst.replication,
    });
    try {
      const statusSql = inst.flavour === 'mariadb' || expected.version.startsWith('8.0') ? 'SHOW MASTER STATUS' : 'SHOW BINARY LOG STATUS';
      const [coords] = await session.query<Record<string, unknown>>(statusSql);
      expect(String(coords!['File'])).toMatch(/^binlog\.\d{6}$/);
      expect(Number(coords!['Position'])).toBeGreaterThan(0);
    } finally {
      await session.close();
    }
  });
});

describe.each(replicas.map(([inst, r]) => [r.name, inst, r] as const))('read replica %s', (_name, inst, r) => {
  const db = `shardline_replica_smoke_${process.pid}`;
  const primaryLogin = {
    host: inst.host,
    port: inst.port,
    tls: inst.tls,
    serverPublicKey: inst.serverPublicKey,
    user: inst.user,
    password: inst.password,
  };
  const replicaLogin = { ...primaryLogin, host: r.host, port: r.port, serverPublicKey: r.serverPublicKey };

  afterAll(async () => {
    const primary = await openMysqlSession(primaryLogin);
    try {
      await primary.query(`DROP DATABASE IF EXISTS \`${db}\``);
    } finally {
      await primary.close();
    }
  });

  it('replicates a row written on its primary within a few seconds, refuses a write from the app account, and has no transaction of its own', async () => {
    const primary = await openMysqlSession(primaryLogin);
    const replica = await openMysqlSession(replicaLogin);
    try {
      await primary.query(`CREATE DATABASE IF NOT EXISTS \`${db}\``);
      await primary.query(`CREATE TABLE IF NOT EXISTS \`${db}\`.t (id VARCHAR(64) PRIMARY KEY, note VARCHAR(100) NOT NULL)`);
      const id = randomUUID();
      await primary.query(`INSERT INTO \`${db}\`.t (id, note) VALUES (?, ?)`, [id, 'from the primary']);
      const deadline = Date.now() + 10_000;
      let rows: unknown[] = [];
      while (Date.now() < deadline) {
        rows = await replica.query(`SELECT note FROM \`${db}\`.t WHERE id = ?`, [id]).catch(() => []);
        if (rows.length > 0) break;
        await sleep(100);
      }
      expect(rows).toEqual([{ note: 'from the primary' }]);

      await expect(replica.query(`INSERT INTO \`${db}\`.t (id, note) VALUES (?, ?)`, [randomUUID(), 'on the replica'])).rejects.toThrow(
        /read.only/i,
      );
      expect(await replica.query(`SELECT COUNT(*) AS n FROM \`${db}\`.t`)).toEqual([{ n: '1' }]);

      // every transaction the replica logged is one its primary has (a local one would be an errant
      // GTID); after a failover and back the nodes share both servers' GTIDs, which is fine
      if (inst.flavour === 'mysql') {
        const [g] = await replica.query<{ e: string }>('SELECT @@gtid_executed AS e');
        const [subset] = await primary.query<{ ok: number | string }>('SELECT GTID_SUBSET(?, @@gtid_executed) AS ok', [g!.e]);
        expect(Number(subset!.ok)).toBe(1);
      } else {
        // nothing else writes meanwhile: once the row arrived, both binlogs end at the same GTID per domain
        const [r] = await replica.query<{ pos: string }>('SELECT @@gtid_binlog_pos AS pos');
        const [q] = await primary.query<{ pos: string }>('SELECT @@gtid_binlog_pos AS pos');
        expect(r!.pos).toBe(q!.pos);
      }
    } finally {
      await replica.close();
      await primary.close();
    }
  });
});

describe('archive', () => {
  it('accepts a write and returns it', async () => {
    const session = await archiveSession(config.archive, config.archive.database);
    try {
      await session.query('CREATE TABLE IF NOT EXISTS smoke_test (id VARCHAR(64) PRIMARY KEY, note VARCHAR(100) NOT NULL)');
      const id = randomUUID();
      await session.query('INSERT INTO smoke_test (id, note) VALUES (?, ?)', [id, 'archived']);
      expect(await session.query('SELECT note FROM smoke_test WHERE id = ?', [id])).toEqual([{ note: 'archived' }]);
      await session.query('DELETE FROM smoke_test WHERE id = ?', [id]);
    } finally {
      await session.close();
    }
  });
});

describe('kafka', () => {
  it('round-trips a message through a new topic', async () => {
    const kafka = new Kafka({ clientId: 'shardline-smoke', brokers: [...config.kafka.brokers], logLevel: logLevel.NOTHING });
    const topic = `shardline.smoke.${randomUUID()}`;
    const admin = kafka.admin();
    const producer = kafka.producer();
    const consumer = kafka.consumer({ groupId: `smoke-${randomUUID()}` });
    try {
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
      await producer.connect();
      const value = `hello ${randomUUID()}`;
      await producer.send({ topic, messages: [{ key: 'k', value }] });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no message within 30 s')), 30_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            clearTimeout(timer);
            resolve(message.value!.toString());
          },
        });
      });
      expect(received).toBe(value);
      await admin.deleteTopics({ topics: [topic] });
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});

describe('elasticsearch', () => {
  it('indexes a document and finds it', async () => {
    const es = new EsClient({ node: config.elasticsearch.node });
    const index = `shardline-smoke-${randomUUID()}`;
    try {
      await es.indices.create({ index, settings: { number_of_shards: 1, number_of_replicas: 0 } });
      await es.index({ index, id: '1', document: { name: 'Ada Lovelace', uid: '42' }, refresh: true });
      const found = await es.search<{ name: string }>({ index, query: { match: { name: 'lovelace' } } });
      expect(found.hits.hits.map((h) => h._source?.name)).toEqual(['Ada Lovelace']);
    } finally {
      await es.indices.delete({ index }, { ignore: [404] });
      await es.close();
    }
  });
});
