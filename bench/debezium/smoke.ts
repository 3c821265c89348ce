/**
 * Smoke run of the Debezium side of bench:snapshot and bench:stream against the running local
 * cluster (it is not started here): a scratch database `bench_dbz_smoke` on shard-0 with
 * SMOKE_TABLES (8) tables × SMOKE_ROWS (10,000) rows snapshotted, and as many rows written into
 * other tables between a stream baseline and two replays. Checks the counts, prints one JSON
 * line, drops the database and the bench user. BENCH_ADMIN_USER / BENCH_ADMIN_PASSWORD: root / empty.
 *
 *   tsc -p tsconfig.bench.json && node build-bench/bench/debezium/smoke.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { loadClusterConfig, resolveConfigPath } from 'shardline';
import {
  buildDebezium,
  ensureDebeziumUser,
  prepareDebeziumStreamBaseline,
  runDebeziumSnapshot,
  runDebeziumStream,
  writeServerPublicKey,
  type DebeziumRun,
} from '../debezium.js';

const TABLES = Number(process.env['SMOKE_TABLES'] ?? 8);
const ROWS = Number(process.env['SMOKE_ROWS'] ?? 10_000);
const DB = 'bench_dbz_smoke';
const INSTANCE = 'shard-0';
const CHUNK = 2_000;

const config = loadClusterConfig(
  resolveConfigPath(
    process.env['SHARDLINE_CONFIG'] ? undefined : new URL('../../../examples/local-cluster.yaml', import.meta.url).pathname,
  ),
);
const inst = config.instances.find((i) => i.name === INSTANCE);
if (!inst || inst.flavour !== 'mysql') throw new Error(`${INSTANCE} must be a MySQL instance of the cluster config`);

const fill = async (admin: mysql.Connection, table: string): Promise<void> => {
  for (let from = 0; from < ROWS; from += CHUNK) {
    const rows: unknown[][] = [];
    for (let id = from + 1; id <= Math.min(ROWS, from + CHUNK); id++) {
      rows.push([id, id * 7919, `name-${id}`, (id % 100000) / 100, new Date(1_700_000_000_000 + id * 1000), id % 2]);
    }
    await admin.query(`INSERT INTO ${DB}.${table} (id, uid, name, amount, created, flag) VALUES ?`, [rows]);
  }
};

const summary = (r: DebeziumRun) => ({
  rows: r.rows,
  rows_per_s: Math.round(r.rowsPerS),
  steady_rows_per_s: Math.round(r.steadyRowsPerS),
  cpu_us_per_row: Math.round(r.cpuUsPerRow),
  startup_s: Number(r.startupSeconds.toFixed(2)),
  peak_rss_mb: r.peakRssMb,
});

const main = async (): Promise<void> => {
  const t0 = performance.now();
  const build = buildDebezium();
  process.stderr.write(`debezium: ${build.built ? 'built' : 'cached build'} in ${Math.round(performance.now() - t0)} ms\n`);
  const admin = await mysql.createConnection({
    host: inst.host,
    port: inst.port,
    user: process.env['BENCH_ADMIN_USER'] ?? 'root',
    password: process.env['BENCH_ADMIN_PASSWORD'] ?? '',
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dbz-smoke-'));
  const baselineDir = path.join(dir, 'baseline');
  const loadAvg = os.loadavg()[0];
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${DB}`);
    await admin.query(`CREATE DATABASE ${DB}`);
    const cols = 'id BIGINT PRIMARY KEY, uid BIGINT NOT NULL, name VARCHAR(64), amount DECIMAL(12,2), created DATETIME(6), flag TINYINT';
    const snapTables: string[] = [];
    const streamTables: string[] = [];
    for (let i = 0; i < TABLES; i++) {
      await admin.query(`CREATE TABLE ${DB}.snap_${i} (${cols})`);
      await admin.query(`CREATE TABLE ${DB}.str_${i} (${cols})`);
      await fill(admin, `snap_${i}`);
      snapTables.push(`${DB}.snap_${i}`);
      streamTables.push(`${DB}.str_${i}`);
    }
    const creds = await ensureDebeziumUser(admin);
    const publicKeyFile = await writeServerPublicKey(admin, path.join(dir, 'server-public-key.pem'));
    const target = { host: inst.host, port: inst.port, ...creds, publicKeyFile, timeoutS: 300 };
    const expected = TABLES * ROWS;

    const snapshot = await runDebeziumSnapshot({ ...target, tables: snapTables });
    if (snapshot.rows !== expected) throw new Error(`the snapshot delivered ${snapshot.rows} rows, expected ${expected}`);
    process.stderr.write(`snapshot: ${JSON.stringify(summary(snapshot))}\n`);

    const baseline = await prepareDebeziumStreamBaseline({ ...target, tables: streamTables, dir: baselineDir });
    process.stderr.write(`baseline at ${baseline.offset.gtids ?? `${baseline.offset.file}:${baseline.offset.pos}`}\n`);
    for (let i = 0; i < TABLES; i++) await fill(admin, `str_${i}`);
    const streams: DebeziumRun[] = [];
    for (let round = 0; round < 2; round++) {
      const run = await runDebeziumStream({ ...target, tables: streamTables, dir: baselineDir, events: expected });
      if (run.events !== expected) throw new Error(`the stream delivered ${run.events} events, expected ${expected}`);
      process.stderr.write(`stream ${round + 1}: ${JSON.stringify(summary(run))}\n`);
      streams.push(run);
    }
    console.log(
      JSON.stringify({
        tables: TABLES,
        rows_per_table: ROWS,
        load_avg_1m_before: Number(loadAvg?.toFixed(2)),
        snapshot: summary(snapshot),
        stream: streams.map(summary),
      }),
    );
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${DB}`);
    await admin.query(`DROP USER IF EXISTS 'shardline_debezium'@'%'`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
};

await main();
