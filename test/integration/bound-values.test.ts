import path from 'node:path';
import mysql from 'mysql2/promise';
import { parseClusterConfig } from '../../src/config/index.js';
import { ShardlineError } from '../../src/errors/index.js';
import { openArchiveConnection } from '../../src/net/archive-connection.js';
import { openDbConnection, openMysqlSession, openReplicationConnection } from '../../src/net/index.js';
import { createRouter } from '../../src/router/index.js';
import { PrivateService } from '../support/private-services.js';

/**
 * Values are bound safely whatever the server's sql_mode: on servers whose GLOBAL sql_mode has
 * NO_BACKSLASH_ESCAPES, client-side escaping (`'` → `\'`) would let a value end its string
 * literal. Every connection shardline opens pins the mode off for its session.
 */
const servers = {
  mysql: new PrivateService({ name: 'bv-mysql', kind: 'mysql', port: 3341, serverId: 41 }),
  mariadb: new PrivateService({ name: 'bv-mariadb', kind: 'mariadb', port: 3342, serverId: 42 }),
};
type Flavour = keyof typeof servers;
const HOSTILE = ["' OR 1=1 -- ", "\\' OR 1=1 -- ", "\\' OR 1=1 #"];
const ROWS = 3;

function endpoint(flavour: Flavour) {
  const s = servers[flavour];
  return {
    name: s.options.name,
    host: '127.0.0.1',
    port: s.options.port,
    user: 'shardline',
    password: 'shardline',
    // MySQL 8.0's accounts use caching_sha2_password: its own key, read from its datadir.
    ...(flavour === 'mysql' ? { serverPublicKey: path.join(s.dataDir, 'public_key.pem') } : {}),
  };
}

beforeAll(async () => {
  await Promise.all(Object.values(servers).map((s) => s.start()));
  for (const flavour of Object.keys(servers) as Flavour[]) {
    const root = await openMysqlSession({
      socketPath: servers[flavour].dir.socket(servers[flavour].options.name),
      user: 'root',
      password: '',
    });
    await root.query('CREATE DATABASE IF NOT EXISTS app_00');
    await root.query('CREATE TABLE app_00.users_0000 (uid BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL)');
    await root.query("INSERT INTO app_00.users_0000 VALUES (1, 'ann'), (2, 'bob'), (3, 'cy')");
    await root.query("SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES')");
    await root.close();
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(Object.values(servers).map((s) => s.destroy()));
});

describe.each(Object.keys(servers) as Flavour[])('%s with NO_BACKSLASH_ESCAPES in the global sql_mode', (flavour) => {
  const select = 'SELECT uid FROM app_00.users_0000 WHERE uid = 1 AND name = ?';

  it('is a hostile server: a connection that does not pin its sql_mode returns every row', async () => {
    const { host, port, user, password } = endpoint(flavour);
    const raw = await mysql.createConnection({
      host,
      port,
      user,
      password,
      ...(flavour === 'mysql' ? { ssl: { rejectUnauthorized: false } } : {}),
    });
    try {
      const [mode] = (await raw.query('SELECT @@SESSION.sql_mode AS m')) as unknown as [{ m: string }[]];
      expect(mode[0]!.m).toContain('NO_BACKSLASH_ESCAPES');
      const [rows] = await raw.query(select, ["\\' OR 1=1 -- "]);
      expect(rows).toHaveLength(ROWS);
    } finally {
      await raw.end();
    }
  });

  it('the pool connection binds the values: 0 rows, and the value round-trips exactly', async () => {
    const conn = await openDbConnection(endpoint(flavour));
    try {
      for (const v of HOSTILE) {
        const out = await conn.query(select, [v], 5000);
        expect(out).toMatchObject({ kind: 'rows', rows: [] });
      }
      const mode = await conn.query('SELECT @@SESSION.sql_mode AS m', []);
      expect(mode.kind === 'rows' && String(mode.rows[0]!['m'])).not.toContain('NO_BACKSLASH_ESCAPES');
      // The rest of the server's mode is kept.
      expect(mode.kind === 'rows' && String(mode.rows[0]!['m'])).toContain('STRICT_TRANS_TABLES');
      await conn.query('INSERT INTO app_00.users_0000 VALUES (?, ?)', [100, HOSTILE[1]]);
      const back = await conn.query('SELECT uid, name FROM app_00.users_0000 WHERE name = ?', [HOSTILE[1]]);
      expect(back.kind === 'rows' && back.rows).toEqual([{ uid: 100n, name: HOSTILE[1] }]);
      await conn.query('DELETE FROM app_00.users_0000 WHERE uid = ?', [100]);
    } finally {
      await conn.close();
    }
  });

  it('the router (pools and transactions) returns 0 rows and refuses to change sql_mode', async () => {
    const other = servers[flavour === 'mysql' ? 'mariadb' : 'mysql'];
    const router = await createRouter(
      parseClusterConfig({
        instances: [{ ...endpoint(flavour), flavour, replication: { user: 'shardline', password: 'shardline' }, serverId: 1 }],
        archive: { host: '127.0.0.1', port: other.options.port, user: 'shardline', password: 'shardline' },
        kafka: { brokers: ['127.0.0.1:9'] },
        elasticsearch: { node: 'http://127.0.0.1:9' },
        sharding: { shards: 1, databases: 1, tables: { users: { shardKey: 'uid' } } },
        pool: { min: 0, max: 2 },
      }),
    );
    try {
      for (const v of HOSTILE) {
        expect(await router.select('SELECT uid FROM users WHERE uid = ? AND name = ?', [1, v])).toEqual([]);
        expect(await router.forUid(1).transaction((tx) => tx.query('SELECT uid FROM users WHERE uid = ? AND name = ?', [1, v]))).toEqual(
          [],
        );
      }
      for (const set of [
        "SET sql_mode = 'NO_BACKSLASH_ESCAPES'",
        "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'",
        "SET @@sql_mode = 'NO_BACKSLASH_ESCAPES'",
        "SET @@SESSION.sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')",
      ]) {
        await expect(router.query(set)).rejects.toBeInstanceOf(ShardlineError);
        await expect(router.forUid(1).query(set)).rejects.toBeInstanceOf(ShardlineError);
      }
      expect(await router.select('SELECT uid FROM users WHERE uid = ? AND name = ?', [1, HOSTILE[1]!])).toEqual([]);
    } finally {
      await router.close();
    }
  });

  it('admin sessions, the replication connection and the archive connection return 0 rows', async () => {
    const ep = endpoint(flavour);
    const session = await openMysqlSession(ep);
    const repl = await openReplicationConnection(ep);
    const archive = await openArchiveConnection(ep);
    try {
      for (const v of HOSTILE) {
        expect(await session.query(select, [v])).toEqual([]);
        expect(await repl.query(select, [v])).toEqual([]);
        expect((await archive.query(select, [v])).rows).toEqual([]);
      }
    } finally {
      await session.close();
      repl.destroy();
      await archive.close();
    }
  });
});
