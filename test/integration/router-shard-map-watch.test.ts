import mysql from 'mysql2/promise';
import { createRouter, type Router } from '../../src/index.js';
import { parseClusterConfig } from '../../src/config/index.js';
import { ShardMap } from '../../src/shard/index.js';
import { testConfig } from '../support/cluster.js';

const base = testConfig();
const META = 'shardline_meta_watch_test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The router's shard-map watcher against published rows on a real instance (in a meta database
 * of its own, so no other test's moves are seen): a version naming an instance outside the
 * config — another cluster's, on a shared server — is ignored; a later version of this cluster
 * is adopted without a restart.
 */
describe('router shard-map watcher', () => {
  const inst = base.instances.find((i) => i.name === 'shard-2')!;
  let admin: mysql.Connection;
  let router: Router;

  beforeAll(async () => {
    admin = await mysql.createConnection({ host: inst.host, port: inst.port, user: inst.user, password: inst.password });
    await admin.query(`DROP DATABASE IF EXISTS ${META}`);
    await admin.query(`CREATE DATABASE ${META}`);
    await admin.query(
      `CREATE TABLE ${META}.shard_map (version INT UNSIGNED NOT NULL PRIMARY KEY, ranges MEDIUMTEXT NOT NULL, move VARCHAR(64) NULL, published_at DATETIME(6) NOT NULL)`,
    );
    const config = structuredClone(base);
    config.sharding.naming.metaDatabase = META;
    router = await createRouter(parseClusterConfig({ ...config, router: { ...(config.router ?? {}), shardMapCheckMs: 50 } }));
  }, 60_000);

  afterAll(async () => {
    await router?.close();
    await admin?.query(`DROP DATABASE IF EXISTS ${META}`);
    await admin?.end();
  });

  const publish = (map: ShardMap) => admin.query(`INSERT INTO ${META}.shard_map VALUES (?, ?, NULL, NOW(6))`, [map.version, map.toJson()]);

  it('ignores a later version that names instances the config does not have, and adopts one that does not', async () => {
    const start = router.topology.map;
    const shard = start.shardsOf('shard-0')[0]!;
    const uid = [...Array(5000).keys()].map((n) => BigInt(n + 1)).find((u) => router.topology.locate(u).shard === shard)!;
    await router.forUid(uid).query('SELECT 1 AS ok');

    const foreign = new ShardMap(start.version + 5, start.shardCount, [{ from: 0, to: start.shardCount - 1, instance: 'other-cluster-0' }]);
    await publish(foreign);
    await sleep(400);
    expect(router.topology.map.version).toBe(start.version);
    expect(router.topology.locate(uid).instance).toBe('shard-0');
    await expect(router.forUid(uid).query('SELECT 1 AS ok')).resolves.toEqual([{ ok: 1n }]);

    const ours = start.reassign([shard], 'shard-3');
    const later = new ShardMap(start.version + 9, start.shardCount, ours.ranges());
    await publish(later);
    for (const deadline = Date.now() + 5000; router.topology.map.version !== later.version && Date.now() < deadline;) await sleep(20);
    expect(router.topology.map.version).toBe(later.version);
    expect(router.topology.locate(uid).instance).toBe('shard-3');
  });
});
