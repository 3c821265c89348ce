/**
 * npm run bench:binlog — rows per second decoded from the same MariaDB binlog stream by shardline's
 * BinlogReader and by @vlasky/zongji 0.9, for a narrow (3-column) and a mixed (15-column) table,
 * side by side; whether each decodes one row losslessly (DATETIME(6), TIMESTAMP(6), BIGINT
 * UNSIGNED, DECIMAL, …, compared with what SELECT prints); and the peak RSS of a reader (in a child
 * process) going through one transaction of ≥ 1 GB of row events. Progress on stderr; last stdout
 * line: one JSON object.
 *
 * Environment: BENCH_NARROW_ROWS (1500000), BENCH_MIXED_ROWS (400000), BENCH_ROUNDS (5),
 * BENCH_BIG_TXN_MB (1024), BENCH_ADMIN_USER / BENCH_ADMIN_PASSWORD (root / empty: creates the
 * scratch database `bench_binlog` on shard-2, dropped at the end; binlogs are not purged).
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import ZongJi from '@vlasky/zongji';
import type { AnyBinlogEvent, DeleteRowsEvent, RotateEvent, RowData, UpdateRowsEvent, WriteRowsEvent } from '@vlasky/zongji';
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { loadClusterConfig, resolveConfigPath } from 'shardline';
import { requireSections } from 'shardline/config';
import { BinlogReader, canonicalRow, type RowImage } from '../src/cdc/binlog/index.js';
import type { RssChildArgs, RssChildResult } from './binlog-rss-child.js';
import { withCluster } from './cluster.js';

// zongji turns DATETIME/TIMESTAMP into Dates in the process time zone; UTC makes its values
// comparable with SELECT under time_zone '+00:00' (and shardline does not depend on it).
process.env['TZ'] = 'UTC';

const NARROW_ROWS = Number(process.env['BENCH_NARROW_ROWS'] ?? 1_500_000);
const MIXED_ROWS = Number(process.env['BENCH_MIXED_ROWS'] ?? 400_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const BIG_TXN_MB = Number(process.env['BENCH_BIG_TXN_MB'] ?? 1024);
const INSTANCE = 'shard-2';
const DB = 'bench_binlog';
const BIG_ROW_BYTES = 64 * 1024;
const MB = 1024 * 1024;
// Replica server ids of this bench: 4200000000 + a per-process block of 20 (u32, and outside the
// 4000000000–4099999999 range `shardline binlog` picks from).
let nextServerId = 4_200_000_000 + (process.pid % 45) * 20;
const serverId = () => nextServerId++;

interface Pos {
  file: string;
  pos: number;
}
interface Range {
  from: Pos;
  to: Pos;
}
interface Run {
  rows: number;
  /** From the first event received to the end of the range. */
  seconds: number;
  /** Including connecting and the reader's setup queries. */
  wallSeconds: number;
  rowsPerS: number;
  /** Process CPU time (user + system) per row over the same span: steadier than rows/s on a busy host. */
  cpuUsPerRow: number;
}
type Capture = (row: Record<string, unknown>) => void;

const log = (msg: string) => process.stderr.write(`[bench:binlog] ${msg}\n`);
let lastFile = '';
let lastSeq = -1;
/** The sequence number of a binlog file name (memoised: it is asked once per event). */
const fileSeq = (f: string) => {
  if (f !== lastFile) {
    lastFile = f;
    lastSeq = Number(/\.(\d+)$/.exec(f)?.[1] ?? -1);
  }
  return lastSeq;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, digits = 3) => Number(x.toFixed(digits));
/** Whether an event ending at (file, nextPos) reaches the end of the range. */
const reached = (to: Pos & { seq?: number }, file: string, nextPos: number) => {
  to.seq ??= Number(/\.(\d+)$/.exec(to.file)?.[1] ?? -1);
  const seq = fileSeq(file);
  return seq > to.seq || (seq === to.seq && nextPos >= to.pos);
};

const config = requireSections(
  loadClusterConfig(
    resolveConfigPath(process.env['SHARDLINE_CONFIG'] ? undefined : new URL('../../examples/local-cluster.yaml', import.meta.url).pathname),
  ),
  ['replication'],
  'the binlog bench',
);
const inst = config.instances.find((i) => i.name === INSTANCE);
if (!inst) throw new Error(`instance ${INSTANCE} is not in the cluster config`);
const endpoint = {
  host: inst.host,
  port: inst.port,
  tls: inst.tls,
  serverPublicKey: inst.serverPublicKey,
  user: inst.replication.user,
  password: inst.replication.password,
};

/** shardline: BinlogReader over the range, counting the rows of `table`. */
async function readShardline(range: Range, table: string, capture?: Capture): Promise<Run> {
  const t0 = performance.now();
  const reader = await BinlogReader.open({ instance: INSTANCE, endpoint, replicaServerId: serverId(), from: range.from, untilNow: true });
  let rows = 0;
  let tFirst = 0;
  let cpu0: NodeJS.CpuUsage | undefined;
  for await (const ev of reader.events()) {
    if (tFirst === 0) {
      tFirst = performance.now();
      cpu0 = process.cpuUsage();
    }
    if (ev.kind === 'rows' && ev.table.table === table && ev.table.database === DB) {
      rows += ev.rows.length;
      if (capture) for (const r of ev.rows) capture(r.after as Record<string, unknown>);
    }
    if (reached(range.to, ev.file, ev.nextPos)) break;
  }
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const seconds = (t1 - tFirst) / 1000;
  return { rows, seconds, wallSeconds: (t1 - t0) / 1000, rowsPerS: rows / seconds, cpuUsPerRow: (cpu.user + cpu.system) / rows };
}

/** zongji: the same range, the same count, stopping at the first event that reaches the end. */
function readZongji(range: Range, table: string, capture?: Capture): Promise<Run> {
  return new Promise<Run>((resolve, reject) => {
    const t0 = performance.now();
    const z = new ZongJi({ host: endpoint.host, port: endpoint.port, user: endpoint.user, password: endpoint.password });
    let file = range.from.file;
    let rows = 0;
    let tFirst = 0;
    let cpu0: NodeJS.CpuUsage | undefined;
    let done = false;
    const finish = (result: Run | Error) => {
      if (done) return;
      done = true;
      const timeout = setTimeout(settle, 3000);
      function settle() {
        clearTimeout(timeout);
        if (result instanceof Error) reject(result);
        else resolve(result);
      }
      z.once('stopped', settle);
      z.stop();
    };
    z.on('error', (err: Error) => finish(err));
    z.on('binlog', (ev: AnyBinlogEvent) => {
      if (done) return;
      if (tFirst === 0) {
        tFirst = performance.now();
        cpu0 = process.cpuUsage();
      }
      const name = ev.getEventName();
      if (name === 'rotate') {
        file = (ev as RotateEvent).binlogName;
        return;
      }
      if (name === 'writerows' || name === 'updaterows' || name === 'deleterows') {
        const rowsEvent = ev as WriteRowsEvent | UpdateRowsEvent | DeleteRowsEvent;
        const t = rowsEvent.tableMap[rowsEvent.tableId];
        if (t && t.tableName === table && t.parentSchema === DB) {
          rows += rowsEvent.rows.length;
          if (capture) for (const r of rowsEvent.rows) capture(name === 'updaterows' ? (r as { after: RowData }).after : (r as RowData));
        }
      }
      if (reached(range.to, file, ev.nextPosition)) {
        const t1 = performance.now();
        const cpu = process.cpuUsage(cpu0);
        const seconds = (t1 - tFirst) / 1000;
        finish({ rows, seconds, wallSeconds: (t1 - t0) / 1000, rowsPerS: rows / seconds, cpuUsPerRow: (cpu.user + cpu.system) / rows });
      }
    });
    z.start({
      serverId: serverId(),
      startAtEnd: false,
      filename: range.from.file,
      position: range.from.pos,
      // xid: the commit events carry the end positions (MariaDB leaves rows events' end_log_pos 0).
      includeEvents: ['rotate', 'tablemap', 'writerows', 'updaterows', 'deleterows', 'xid'],
    });
  });
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
/** zongji's value in the canonical encoding, as far as it can be: a Date keeps milliseconds only. */
function zongjiCanonical(v: unknown, expected: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) {
    const text = `${pad(v.getFullYear(), 4)}-${pad(v.getMonth() + 1)}-${pad(v.getDate())} ${pad(v.getHours())}:${pad(v.getMinutes())}:${pad(v.getSeconds())}.${pad(v.getMilliseconds(), 3)}000`;
    return typeof expected === 'string' ? text.slice(0, expected.length) : text;
  }
  if (Buffer.isBuffer(v))
    return typeof expected === 'string' && /^\d+$/.test(expected)
      ? BigInt(`0x${v.toString('hex') || '0'}`).toString()
      : v.toString('base64');
  if (Array.isArray(v)) return v.join(',');
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && typeof expected === 'string') return String(v);
  if (typeof v === 'object') return JSON.stringify(v) === JSON.stringify(JSON.parse(String(expected))) ? expected : JSON.stringify(v);
  return v;
}

/** The columns whose decoded value differs from SELECT's. */
const mismatches = (
  expected: Record<string, unknown>,
  got: Record<string, unknown> | null | undefined,
  normalise: (v: unknown, e: unknown) => unknown,
) => Object.keys(expected).filter((k) => !got || normalise(got[k], expected[k]) !== expected[k]);

const spawnChild = (args: RssChildArgs) =>
  new Promise<RssChildResult>((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(import.meta.dirname, 'binlog-rss-child.js'), JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) reject(new Error(`the RSS child exited with ${code}: ${out}`));
      else resolve(JSON.parse(last) as RssChildResult);
    });
  });

await withCluster(async () => {
  const admin = await mysql.createConnection({
    host: inst.host,
    port: inst.port,
    user: process.env['BENCH_ADMIN_USER'] ?? 'root',
    password: process.env['BENCH_ADMIN_PASSWORD'] ?? '',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  });
  const restore: string[] = [];
  try {
    await admin.query("SET time_zone = '+00:00'");
    const position = async (): Promise<Pos> => {
      const [rows] = await admin.query<RowDataPacket[]>('SHOW MASTER STATUS');
      return { file: String(rows[0]!['File']), pos: Number(rows[0]!['Position']) };
    };
    /**
     * The end of a range: the position after its last commit, then one small commit after it, so
     * that a reader always sees an event at or past the end (zongji only emits the events it is
     * asked for, and a range can end exactly where the server rotated to a new file).
     */
    const endOfRange = async (): Promise<Pos> => {
      const end = await position();
      await admin.query(`INSERT INTO ${DB}.marker () VALUES ()`);
      return end;
    };
    const fill = async (table: string, total: number, batch: number, select: string) => {
      for (let a = 1; a <= total; a += batch) {
        const b = Math.min(total, a + batch - 1);
        await admin.query(`INSERT INTO ${DB}.${table} SELECT ${select} FROM ${DB}.seq_${a}_to_${b}`);
      }
    };

    log(`creating ${DB} on ${INSTANCE} (${inst.host}:${inst.port})`);
    await admin.query(`DROP DATABASE IF EXISTS ${DB}`);
    await admin.query(`CREATE DATABASE ${DB} CHARACTER SET utf8mb4`);
    await admin.query(`CREATE TABLE ${DB}.narrow (id INT NOT NULL PRIMARY KEY, a INT NOT NULL, b VARCHAR(20) NOT NULL) ENGINE=InnoDB`);
    await admin.query(`CREATE TABLE ${DB}.mixed (
      id INT NOT NULL PRIMARY KEY, i8 TINYINT NOT NULL, u64 BIGINT UNSIGNED NOT NULL, amount DECIMAL(20,6) NOT NULL,
      ratio DOUBLE NOT NULL, label VARCHAR(64) CHARACTER SET utf8mb4 NOT NULL, dt6 DATETIME(6) NOT NULL,
      ts6 TIMESTAMP(6) NULL DEFAULT NULL, day DATE NOT NULL, t3 TIME(3) NOT NULL, color ENUM('red','green','blue') NOT NULL,
      tags SET('a','b','c','d') NOT NULL, raw BLOB NOT NULL, doc JSON NOT NULL, flags BIT(10) NOT NULL) ENGINE=InnoDB`);
    await admin.query(`CREATE TABLE ${DB}.marker (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB`);
    await admin.query(`CREATE TABLE ${DB}.big (id INT NOT NULL PRIMARY KEY, payload LONGBLOB NOT NULL) ENGINE=InnoDB`);

    const compression = async () => {
      try {
        const [rows] = await admin.query<RowDataPacket[]>('SELECT @@global.log_bin_compress AS c');
        return Number(rows[0]!['c']) === 1;
      } catch {
        return false;
      }
    };
    const compressed = await compression();
    if (compressed)
      log('log_bin_compress is ON on this server (a test may have turned it on): the narrow and mixed streams are compressed events');
    let t = performance.now();
    const narrowFrom = await position();
    await fill('narrow', NARROW_ROWS, 50_000, "seq, (seq * 7919) % 1000003, CONCAT('row-', seq)");
    const narrow: Range = { from: narrowFrom, to: await endOfRange() };
    log(
      `narrow: ${NARROW_ROWS} rows in ${((performance.now() - t) / 1000).toFixed(1)} s, binlog ${narrow.from.file}:${narrow.from.pos} → ${narrow.to.file}:${narrow.to.pos}`,
    );
    t = performance.now();
    const mixedFrom = await position();
    await fill(
      'mixed',
      MIXED_ROWS,
      20_000,
      `seq, CAST(seq % 256 AS SIGNED) - 128, 18446744073709551615 - seq, seq * 1.000001 * IF(seq % 2, 1, -1), seq / 3e0,
       CONCAT('ünïcødé-', seq, '-🙂'), TIMESTAMP('2024-01-01 00:00:00.000000') + INTERVAL seq * 1000003 MICROSECOND,
       IF(seq % 10 = 0, NULL, FROM_UNIXTIME(1700000000 + seq) + INTERVAL (seq * 7919) % 1000000 MICROSECOND),
       DATE('2020-01-01') + INTERVAL seq % 3650 DAY, SEC_TO_TIME((seq % 86400) + (seq % 1000) / 1000),
       ELT(1 + seq % 3, 'red', 'green', 'blue'), ELT(1 + seq % 4, 'a', 'a,b', 'b,c,d', ''), UNHEX(SHA1(seq)),
       JSON_OBJECT('id', seq, 'tags', JSON_ARRAY('x', seq % 10), 'ok', seq % 2 = 0), seq % 1024`,
    );
    const mixed: Range = { from: mixedFrom, to: await endOfRange() };
    log(
      `mixed: ${MIXED_ROWS} rows in ${((performance.now() - t) / 1000).toFixed(1)} s, binlog ${mixed.from.file}:${mixed.from.pos} → ${mixed.to.file}:${mixed.to.pos}`,
    );
    const binlogBytes = (r: Range) => (r.from.file === r.to.file ? r.to.pos - r.from.pos : null);

    // Lossless: one row as SELECT prints it (time_zone +00:00) against each reader's value.
    let sampleId = Math.min(123_457, MIXED_ROWS - 1);
    if (sampleId % 10 === 0) sampleId--;
    const [sel] = await admin.query<RowDataPacket[]>(
      `SELECT id, i8, CAST(u64 AS CHAR) AS u64, CAST(amount AS CHAR) AS amount, ratio, label, CAST(dt6 AS CHAR) AS dt6,
       CAST(ts6 AS CHAR) AS ts6, CAST(day AS CHAR) AS day, CAST(t3 AS CHAR) AS t3, color, CAST(tags AS CHAR) AS tags,
       TO_BASE64(raw) AS raw, CAST(doc AS CHAR) AS doc, CAST(flags + 0 AS CHAR) AS flags FROM ${DB}.mixed WHERE id = ?`,
      [sampleId],
    );
    const expected = { ...sel[0] } as Record<string, unknown>;
    let shardlineSample: Record<string, unknown> | null = null;
    let zongjiSample: Record<string, unknown> | null = null;

    log('warm-up (and the lossless sample): one pass of each reader over both ranges');
    await readShardline(mixed, 'mixed', (row) => {
      if (row['id'] === sampleId) shardlineSample = canonicalRow(row as RowImage);
    });
    await readZongji(mixed, 'mixed', (row) => {
      if (row['id'] === sampleId) zongjiSample = row;
    });
    await readShardline(narrow, 'narrow');
    await readZongji(narrow, 'narrow');
    const sample = shardlineSample as Record<string, unknown> | null;
    const zSample = zongjiSample as Record<string, unknown> | null;
    const shardlineBad = mismatches(expected, sample, (v) => v);
    const zongjiBad = mismatches(expected, zSample, zongjiCanonical);
    log(
      `lossless check, mixed id ${sampleId}: shardline differs from SELECT in [${shardlineBad.join(', ')}], zongji in [${zongjiBad.join(', ')}]`,
    );
    for (const k of new Set([...shardlineBad, ...zongjiBad])) {
      log(
        `  ${k}: SELECT ${JSON.stringify(expected[k])}, shardline ${JSON.stringify(sample?.[k])}, zongji ${String(zSample?.[k])} → ${JSON.stringify(zongjiCanonical(zSample?.[k], expected[k]))}`,
      );
    }

    const compare = async (range: Range, table: string, expectRows: number) => {
      const s: Run[] = [];
      const z: Run[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const runs: [string, Run[], () => Promise<Run>][] = [
          ['shardline', s, () => readShardline(range, table)],
          ['zongji', z, () => readZongji(range, table)],
        ];
        if (r % 2 === 1) runs.reverse();
        for (const [name, into, run] of runs) {
          const result = await run();
          if (result.rows !== expectRows) throw new Error(`${name} decoded ${result.rows} rows of ${table}, expected ${expectRows}`);
          into.push(result);
          log(
            `${table} round ${r + 1}: ${name} ${result.rowsPerS.toFixed(0)} rows/s (${result.seconds.toFixed(2)} s, ${result.cpuUsPerRow.toFixed(2)} CPU µs/row)`,
          );
        }
      }
      const sRate = median(s.map((x) => x.rowsPerS));
      const zRate = median(z.map((x) => x.rowsPerS));
      const sCpu = median(s.map((x) => x.cpuUsPerRow));
      const zCpu = median(z.map((x) => x.cpuUsPerRow));
      log(
        `${table}: shardline ${sRate.toFixed(0)} rows/s, zongji ${zRate.toFixed(0)} rows/s, ratio ${(sRate / zRate).toFixed(3)}; CPU µs/row ${sCpu.toFixed(2)} vs ${zCpu.toFixed(2)}, CPU ratio ${(zCpu / sCpu).toFixed(3)} (medians of ${ROUNDS})`,
      );
      return {
        ratio: sRate / zRate,
        shardline: sRate,
        zongji: zRate,
        shardlineSeconds: median(s.map((x) => x.seconds)),
        zongjiSeconds: median(z.map((x) => x.seconds)),
        shardlineCpuUsPerRow: sCpu,
        zongjiCpuUsPerRow: zCpu,
        shardlineRuns: s.map((x) => Math.round(x.rowsPerS)),
        zongjiRuns: z.map((x) => Math.round(x.rowsPerS)),
      };
    };
    const n = await compare(narrow, 'narrow', NARROW_ROWS);
    const m = await compare(mixed, 'mixed', MIXED_ROWS);

    // The big transaction: BIG_TXN_MB of 64 KiB LONGBLOB rows, one COMMIT.
    const [vars] = await admin.query<RowDataPacket[]>(
      'SELECT @@global.max_binlog_cache_size AS cache, @@global.max_allowed_packet AS packet',
    );
    const need = BIG_TXN_MB * MB * 1.25;
    if (Number(vars[0]!['cache']) < need) {
      restore.push(`SET GLOBAL max_binlog_cache_size = ${vars[0]!['cache']}`);
      await admin.query(`SET GLOBAL max_binlog_cache_size = ${Math.ceil(need)}`);
    }
    if (Number(vars[0]!['packet']) < 4 * BIG_ROW_BYTES) {
      restore.push(`SET GLOBAL max_allowed_packet = ${vars[0]!['packet']}`);
      await admin.query(`SET GLOBAL max_allowed_packet = ${4 * BIG_ROW_BYTES}`);
    }
    // Random bytes (RANDOM_BYTES gives at most 1024 a call): the binlog holds ≥ 1 GB even when
    // MariaDB's log_bin_compress is on.
    const randomPayload = `CONCAT(${Array.from({ length: BIG_ROW_BYTES / 1024 }, () => 'RANDOM_BYTES(1024)').join(', ')})`;
    const bigRows = Math.ceil((BIG_TXN_MB * MB) / BIG_ROW_BYTES);
    t = performance.now();
    const bigFrom = await position();
    await admin.query('BEGIN');
    const perStatement = 1024;
    for (let a = 1; a <= bigRows; a += perStatement) {
      const b = Math.min(bigRows, a + perStatement - 1);
      await admin.query(`INSERT INTO ${DB}.big SELECT seq, ${randomPayload} FROM ${DB}.seq_${a}_to_${b}`);
    }
    await admin.query('COMMIT');
    const big: Range = { from: bigFrom, to: await endOfRange() };
    const [sizes] = await admin.query<RowDataPacket[]>('SHOW BINARY LOGS');
    const fileSize = new Map(sizes.map((r) => [String(r['Log_name']), Number(r['File_size'])]));
    const bigBinlogBytes = big.from.file === big.to.file ? big.to.pos - big.from.pos : (fileSize.get(big.from.file) ?? 0) - big.from.pos;
    log(
      `big: ${bigRows} rows × ${BIG_ROW_BYTES} B in one transaction in ${((performance.now() - t) / 1000).toFixed(1)} s, ${(bigBinlogBytes / MB).toFixed(0)} MiB of binlog, ${big.from.file}:${big.from.pos} → ${big.to.file}:${big.to.pos}`,
    );
    const rss = await spawnChild({
      instance: INSTANCE,
      endpoint,
      replicaServerId: serverId(),
      from: big.from,
      to: big.to,
      database: DB,
      table: 'big',
    });
    if (rss.rows !== bigRows || rss.payloadBytes !== bigRows * BIG_ROW_BYTES)
      throw new Error(`the RSS child decoded ${rss.rows} rows / ${rss.payloadBytes} B, expected ${bigRows} / ${bigRows * BIG_ROW_BYTES}`);
    const peakRss = Math.max(rss.peakRssMb, rss.maxRssMb);
    log(
      `big: shardline read ${rss.rows} rows (${(rss.payloadBytes / MB).toFixed(0)} MiB of payload) in ${rss.seconds.toFixed(1)} s; RSS baseline ${rss.baselineRssMb.toFixed(0)} MB, peak sampled ${rss.peakRssMb.toFixed(0)} MB (${rss.samples} samples), kernel max ${rss.maxRssMb.toFixed(0)} MB`,
    );

    const dt6 = (v: unknown) => (v instanceof Date ? v.toISOString() : v === undefined ? null : v);
    const result = {
      ratio_vs_zongji_narrow: round(n.ratio),
      ratio_vs_zongji_mixed: round(m.ratio),
      peak_rss_mb_1gb_txn: round(peakRss, 1),
      shardline_lossless: sample !== null && shardlineBad.length === 0,
      zongji_lossless: zSample !== null && zongjiBad.length === 0,
      targets: { ratio_vs_zongji_narrow: 1.0, ratio_vs_zongji_mixed: 1.5, peak_rss_mb_1gb_txn: 300 },
      shardline_rows_per_s_narrow: Math.round(n.shardline),
      zongji_rows_per_s_narrow: Math.round(n.zongji),
      shardline_rows_per_s_mixed: Math.round(m.shardline),
      zongji_rows_per_s_mixed: Math.round(m.zongji),
      cpu_us_per_row_narrow: { shardline: round(n.shardlineCpuUsPerRow), zongji: round(n.zongjiCpuUsPerRow) },
      cpu_us_per_row_mixed: { shardline: round(m.shardlineCpuUsPerRow), zongji: round(m.zongjiCpuUsPerRow) },
      cpu_ratio_vs_zongji_narrow: round(n.zongjiCpuUsPerRow / n.shardlineCpuUsPerRow),
      cpu_ratio_vs_zongji_mixed: round(m.zongjiCpuUsPerRow / m.shardlineCpuUsPerRow),
      rows_narrow: NARROW_ROWS,
      rows_mixed: MIXED_ROWS,
      seconds_narrow: { shardline: round(n.shardlineSeconds), zongji: round(n.zongjiSeconds) },
      seconds_mixed: { shardline: round(m.shardlineSeconds), zongji: round(m.zongjiSeconds) },
      runs_rows_per_s: {
        narrow: { shardline: n.shardlineRuns, zongji: n.zongjiRuns },
        mixed: { shardline: m.shardlineRuns, zongji: m.zongjiRuns },
      },
      log_bin_compress: compressed,
      binlog_bytes: { narrow: binlogBytes(narrow), mixed: binlogBytes(mixed), big_txn: bigBinlogBytes },
      lossless_sample: {
        id: sampleId,
        dt6_select: expected['dt6'],
        dt6_shardline: sample?.['dt6'] ?? null,
        dt6_zongji: dt6(zSample?.['dt6']),
        shardline_mismatched_columns: shardlineBad,
        zongji_mismatched_columns: zongjiBad,
      },
      big_txn: {
        rows: rss.rows,
        payload_bytes: rss.payloadBytes,
        seconds: round(rss.seconds, 2),
        rows_per_s: Math.round(rss.rows / rss.seconds),
        baseline_rss_mb: round(rss.baselineRssMb, 1),
        peak_rss_mb_sampled: round(rss.peakRssMb, 1),
        max_rss_mb_kernel: round(rss.maxRssMb, 1),
        samples: rss.samples,
      },
      rounds: ROUNDS,
      statistic: 'median rows/s from the first event to the end of the range; warm-up pass excluded',
      cpus: os.availableParallelism(),
      loadavg_1m_at_end: round(os.loadavg()[0] ?? 0, 2),
    };
    console.log(JSON.stringify(result));
  } finally {
    for (const sql of restore) await admin.query(sql).catch((err: Error) => log(`could not restore: ${sql}: ${err.message}`));
    await admin.query(`DROP DATABASE IF EXISTS ${DB}`).catch((err: Error) => log(`could not drop ${DB}: ${err.message}`));
    await admin.end();
  }
});
