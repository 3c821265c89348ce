import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/config/index.js';
import { openMysqlSession, type MysqlSession } from '../../src/net/index.js';
import { PrivateMariaDb } from '../support/private-mariadb.js';

const PORT = 3394;
const server = new PrivateMariaDb({
  port: PORT,
  serverId: 94,
  extraArgs: ['--log-bin=binlog', '--binlog-format=ROW', '--binlog-row-metadata=FULL'],
});
let s: MysqlSession;
let configPath: string;

beforeAll(async () => {
  await server.start();
  s = await openMysqlSession({ host: '127.0.0.1', port: PORT, user: 'shardline', password: 'shardline' });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-preflight-'));
  configPath = path.join(dir, 'cluster.yaml');
  writeFileSync(
    configPath,
    `instances:
  - { name: solo, flavour: mariadb, host: 127.0.0.1, port: ${PORT}, user: shardline, password: shardline, replication: { user: shardline, password: shardline }, serverId: 94 }
archive: { host: 127.0.0.1, port: 3320, user: shardline, password: shardline, database: preflight_archive, serverId: 20 }
kafka: { brokers: ["127.0.0.1:9092"] }
elasticsearch: { node: "http://127.0.0.1:9200" }
sharding:
  shards: 16
  databases: 2
  map: { version: 1, ranges: [{ from: 0, to: 15, instance: solo }] }
  tables: { users: { shardKey: uid } }
cdc: { topicPrefix: "preflight.", groupPrefix: preflight, http: { port: 0 } }
`,
  );
});

afterAll(async () => {
  await s?.close();
  await server.destroy();
});

async function runWorker(): Promise<{ code: number; stderr: string }> {
  try {
    await promisify(execFile)(
      process.execPath,
      [path.join(packageRoot, 'dist', 'cli', 'main.js'), 'cdc', '--config', configPath, '--http-port', '0'],
      { cwd: packageRoot, timeout: 60_000 },
    );
    return { code: 0, stderr: '' };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

it.each([
  ['binlog_format', "SET GLOBAL binlog_format = 'STATEMENT'", /binlog_format is STATEMENT: it must be ROW/],
  ['binlog_row_metadata', "SET GLOBAL binlog_row_metadata = 'MINIMAL'", /binlog_row_metadata is MINIMAL: it must be FULL/],
  ['binlog_row_image', "SET GLOBAL binlog_row_image = 'MINIMAL'", /binlog_row_image is MINIMAL: it must be FULL/],
])('refuses to start when %s is wrong, naming the variable', async (_name, breakIt, message) => {
  await s.query("SET GLOBAL binlog_format = 'ROW'");
  await s.query("SET GLOBAL binlog_row_metadata = 'FULL'");
  await s.query("SET GLOBAL binlog_row_image = 'FULL'");
  await s.query(breakIt);
  const { code, stderr } = await runWorker();
  expect(code).toBe(1);
  expect(stderr).toMatch(/error BINLOG_PRECONDITION: instance solo: /);
  expect(stderr).toMatch(message);
});
