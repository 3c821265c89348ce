import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRouter, type Router } from 'shardline';
import { bundledClusterConfig } from 'shardline/config';
import { hostSpan, median, round, spread } from './stats.js';

// bench:analytics, the archival part: `archival_rows_per_s` and `router_p99_ratio_during_archival`.
// Each round writes BENCH_ARCHIVAL_ROWS old users rows (not measured), then measures point reads
// by uid on recent rows A: for BENCH_ARCHIVAL_QUIET_S seconds with nothing else running, B: while
// `shardline archival run` (a child process; the default throttle, or BENCH_ARCHIVAL_RATE rows/s) moves the old rows out;
// A B A B … (BENCH_ARCHIVAL_ROUNDS of each). The ratio is per round (B's p99 ÷ the A just before).

const ROWS = Number(process.env['BENCH_ARCHIVAL_ROWS'] ?? 100_000);
const ROUNDS = Number(process.env['BENCH_ARCHIVAL_ROUNDS'] ?? 3);
const QUIET_S = Number(process.env['BENCH_ARCHIVAL_QUIET_S'] ?? 10);
const RATE = process.env['BENCH_ARCHIVAL_RATE'];
const READERS = 8;
const OLD_BASE = 9_400_000_000n;
const OLD = '2020-01-01 00:00:00.000000';

interface Reads {
  n: number;
  p99_ms: number;
  cpu_us_per_read: number;
}

/** Point reads of recent rows until `until` resolves; their p99 and client CPU per read. */
async function pointReads(router: Router, uids: readonly bigint[], until: Promise<unknown>): Promise<Reads> {
  let done = false;
  void until.finally(() => (done = true));
  const ms: number[] = [];
  const c0 = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: READERS }, async () => {
      while (!done) {
        const uid = uids[next++ % uids.length]!;
        const t0 = performance.now();
        const rows = (await router.forUid(uid).query('SELECT uid, name, balance FROM users WHERE uid = ?', [uid])) as unknown[];
        ms.push(performance.now() - t0);
        if (rows.length !== 1) throw new Error(`point read of ${uid} returned ${rows.length} rows`);
      }
    }),
  );
  const cpu = process.cpuUsage(c0);
  ms.sort((a, b) => a - b);
  return {
    n: ms.length,
    p99_ms: round(ms[Math.floor(ms.length * 0.99)] ?? NaN, 2),
    cpu_us_per_read: Math.round((cpu.user + cpu.system) / ms.length),
  };
}

/** Old rows for one round (through the router, multi-row statements). */
async function writeOld(router: Router, round: number): Promise<void> {
  const base = OLD_BASE + BigInt(round) * 10_000_000n;
  for (let i = 0; i < ROWS; i += 2000) {
    const n = Math.min(2000, ROWS - i);
    const values: unknown[] = [];
    for (let k = i; k < i + n; k++) values.push(base + BigInt(k), `old ${k}`, OLD);
    await router.query(
      `INSERT INTO users (uid, name, created_at) VALUES ${Array.from({ length: n }, () => '(?, ?, ?)').join(', ')}`,
      values as never,
    );
  }
}

function archivalRun(configFile: string): Promise<{ rows_deleted: number; rows_per_s: number }> {
  const cli = path.resolve(import.meta.dirname, '..', '..', 'dist/cli/main.js');
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      [cli, 'archival', 'run', '--config', configFile, '--json'],
      { maxBuffer: 64 << 20 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`archival run failed: ${stderr.slice(-2000)}`)) : resolve(JSON.parse(stdout.trim().split('\n').pop()!)),
    ),
  );
}

/** The archival fields of bench:analytics; `recent` are uids of rows the job leaves alone. */
export async function archivalBench(recent: readonly bigint[], log: (m: string) => void): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-archival-'));
  const configFile = path.join(dir, 'cluster.yaml');
  writeFileSync(
    configFile,
    readFileSync(bundledClusterConfig, 'utf8')
      .replaceAll('../.shardline', path.resolve(path.dirname(bundledClusterConfig), '..', '.shardline'))
      .replace(
        'users: { shardKey: uid }',
        `users: { shardKey: uid, archival: { column: created_at, olderThan: 90d${RATE ? `, maxRowsPerSecond: ${RATE}` : ''} } }`,
      ),
  );
  const router = await createRouter(bundledClusterConfig);
  const quiet: Reads[] = [];
  const during: Reads[] = [];
  const runs: { rows_deleted: number; rows_per_s: number; host_busy_pct: number }[] = [];
  try {
    // old rows other runs left behind go first, outside the measurement
    await archivalRun(configFile);
    for (let r = 0; r < ROUNDS; r++) {
      await writeOld(router, r);
      quiet.push(await pointReads(router, recent, new Promise((res) => setTimeout(res, QUIET_S * 1000))));
      const span = hostSpan();
      const job = archivalRun(configFile);
      during.push(await pointReads(router, recent, job));
      const result = await job;
      runs.push({ ...result, host_busy_pct: span().host_busy_pct });
      if (result.rows_deleted < ROWS) throw new Error(`the job deleted ${result.rows_deleted} rows, expected at least ${ROWS}`);
      log(
        `round ${r + 1} archival: quiet p99 ${quiet.at(-1)!.p99_ms} ms, during the job p99 ${during.at(-1)!.p99_ms} ms; ${result.rows_deleted} rows at ${result.rows_per_s} rows/s`,
      );
    }
  } finally {
    await router.close();
  }
  const ratios = quiet.map((q, i) => during[i]!.p99_ms / q.p99_ms);
  return {
    archival_rows_per_s: Math.round(median(runs.map((x) => x.rows_per_s))),
    archival_rows_per_s_spread: spread(runs.map((x) => x.rows_per_s)),
    router_p99_ratio_during_archival: round(median(ratios), 2),
    router_p99_ratio_during_archival_spread: { min: round(Math.min(...ratios), 2), max: round(Math.max(...ratios), 2) },
    point_read_p99_ms: { quiet: median(quiet.map((x) => x.p99_ms)), during_archival: median(during.map((x) => x.p99_ms)) },
    point_read_client_cpu_us: {
      quiet: median(quiet.map((x) => x.cpu_us_per_read)),
      during_archival: median(during.map((x) => x.cpu_us_per_read)),
    },
    archival_host_busy_pct: spread(runs.map((x) => x.host_busy_pct)),
    archival_rows_per_round: ROWS,
    archival_rounds: ROUNDS,
    archival_max_rows_per_second: RATE ? Number(RATE) : 'default (2000)',
  };
}
