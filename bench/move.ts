/**
 * npm run bench:move — online shard moves (issue 17) under a read/write workload.
 *
 * - BENCH_ROWS (60,000) users rows are seeded into shards 768-831 (shard-3, MariaDB); a router in
 *   another process (test/support/reshard-workload-child.mjs) inserts, updates, reads and runs
 *   transactions on every shard without retrying, and records every request; besides its loop (one
 *   request at a time, so a fence would hold up one request of it) it starts an increment of a row
 *   on a moving shard every BENCH_PROBE_MS (10) without waiting for the last — an open-loop writer
 *   whose writes arrive throughout a fence and each wait what is left of it;
 * - rounds alternate a quiet window (A: BENCH_IDLE_MS, 8 s, no move) and a move (B: `shardline
 *   reshard move --shards 768-831` to shard-4, the next round back to shard-3), BENCH_ROUNDS (2)
 *   of each: A B A B …;
 * - copy_rows_per_s: rows copied ÷ copy phase time, median of the moves; catchup_lag_ms_p99: the
 *   catch-up's lag behind the source (age of the transaction it applied, sampled every 100 ms),
 *   p99 per move, median; write_pause_ms_p99: p99 over the writes to the moving shards that began
 *   between 200 ms before a fence and 2 s after its map was published, of their latency minus the
 *   median latency of moving-shard writes in the A windows (target ≤ 300); other_shards_p99_ratio:
 *   p99 of requests to the other shards in the B windows ÷ in the A windows (target ≤ 1.5);
 *   failed_requests (must be 0); client CPU per request of the workload process, host busy per side;
 * - after each move, outside the measured windows, `reshard cleanup` drops the tables it fenced.
 *
 * Progress on stderr; last stdout line: one JSON object.
 */
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRouter, loadClusterConfig } from 'shardline';
import { bundledClusterConfig } from 'shardline/config';
import { onCluster } from './cluster.js';
import { hostSpan, median, round, spread } from './stats.js';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 60_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
const IDLE_MS = Number(process.env['BENCH_IDLE_MS'] ?? 8000);
const PROBE_MS = Number(process.env['BENCH_PROBE_MS'] ?? 10);
/** `reshard move --max-rows-per-second` (unset: the move's default, no bound). */
const MAX_ROWS_PER_S = process.env['BENCH_MOVE_MAX_ROWS_PER_S'];
const SHARDS = '768-831';
const root = path.resolve(import.meta.dirname, '..', '..');
const cli = path.join(root, 'dist/cli/main.js');
const log = (m: string) => process.stderr.write(`[bench:move] ${m}\n`);
const shardline = (...args: string[]) =>
  execFileSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

interface MoveReport {
  rows_copied: number;
  catchup_lag_ms_p99: number | null;
  fenced_at: number;
  published_at: number;
  phase_ms: Record<string, number>;
  fence_ms: number;
  phase: string;
}

const p = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * q))]! : NaN;
};

await onCluster(async () => {
  shardline('migrate');
  shardline('reshard', 'cleanup');
  const config = loadClusterConfig(bundledClusterConfig);
  const router = await createRouter(config);
  // rows an interrupted earlier run left in the bench's uid range
  await router.query('DELETE FROM users WHERE uid BETWEEN ? AND ?', [9_470_000_000_000_000n, 9_479_999_999_999_999n], { scatter: true });
  const base = 9_470_000_000_000_000n + BigInt(Date.now() % 1_000_000) * 1_000_000n;
  const seeded: bigint[] = [];
  for (let u = base; seeded.length < ROWS; u++) {
    const s = router.topology.shardOf(u);
    if (s >= 768 && s <= 831) seeded.push(u);
  }
  for (let i = 0; i < seeded.length; i += 1000) {
    const part = seeded.slice(i, i + 1000);
    await router.query(
      `INSERT INTO users (uid, name, email, balance) VALUES ${part.map(() => '(?, ?, ?, ?)').join(', ')}`,
      part.flatMap((u) => [u, `bench ${u}`, 'b@example.com', '1.00']),
    );
  }
  log(`${seeded.length} rows seeded into shards ${SHARDS}`);
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'test/support/reshard-workload-child.mjs'),
      path.join(root, 'dist'),
      String(base + 5_000_000_000n),
      SHARDS,
      'trace',
      String(PROBE_MS),
    ],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  // a bench that fails half-way must not leave its workload writing into the cluster
  process.once('exit', () => child.kill('SIGKILL'));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  while (!out.includes('ready\n')) await sleep(20);
  await sleep(2000);
  const windows: { side: 'A' | 'B'; from: number; to: number; busy: number; report?: MoveReport }[] = [];
  let at = 'shard-3';
  for (let r = 0; r < ROUNDS; r++) {
    for (const side of ['A', 'B'] as const) {
      const span = hostSpan();
      const from = Date.now();
      let report: MoveReport | undefined;
      if (side === 'A') await sleep(IDLE_MS);
      else {
        const to = at === 'shard-3' ? 'shard-4' : 'shard-3';
        const bound = MAX_ROWS_PER_S ? ['--max-rows-per-second', MAX_ROWS_PER_S] : [];
        report = JSON.parse(shardline('reshard', 'move', '--shards', SHARDS, '--to', to, ...bound, '--json')) as MoveReport;
        at = to;
        log(
          `round ${r + 1}: moved to ${to}: ${report.rows_copied} rows, phases ${JSON.stringify(report.phase_ms)}, catch-up lag p99 ${report.catchup_lag_ms_p99} ms`,
        );
      }
      windows.push({ side, from, to: Date.now(), busy: span().host_busy_pct, ...(report ? { report } : {}) });
      if (report) {
        shardline('reshard', 'cleanup');
        await sleep(1000);
      }
    }
  }
  if (at !== 'shard-3') shardline('reshard', 'move', '--shards', SHARDS, '--to', 'shard-3', '--json');
  child.stdin!.end('stop\n');
  await new Promise((r) => child.once('exit', r));
  const result = JSON.parse(out.trim().split('\n').pop()!) as {
    requests: number;
    failed: number;
    errors: Record<string, number>;
    cpuUs: number;
    samples: [number, number, number, number][];
  };
  shardline('reshard', 'cleanup');
  for (let i = 0; i < seeded.length; i += 1000)
    await router.query(`DELETE FROM users WHERE uid IN (${seeded.slice(i, i + 1000).join(',')})`);
  await router.close();

  const inSide = (side: 'A' | 'B') => windows.filter((w) => w.side === side);
  const during = (ws: typeof windows, pick: (s: [number, number, number, number]) => boolean) =>
    result.samples.filter((s) => pick(s) && ws.some((w) => s[0] >= w.from && s[0] < w.to)).map((s) => s[1]);
  const quietMovingWrites = during(inSide('A'), (s) => s[2] === 1 && s[3] === 1);
  const baseline = median(quietMovingWrites);
  const pauses: number[] = [];
  for (const w of inSide('B')) {
    const m = w.report!;
    for (const s of result.samples)
      if (s[2] === 1 && s[3] === 1 && s[0] >= m.fenced_at - 200 && s[0] <= m.published_at + 2000) pauses.push(Math.max(0, s[1] - baseline));
  }
  const otherA = during(inSide('A'), (s) => s[2] === 0);
  const otherB = during(inSide('B'), (s) => s[2] === 0);
  const moves = inSide('B').map((w) => w.report!);
  const copyRates = moves.map((m) => m.rows_copied / Math.max(0.001, (m.phase_ms['copy'] ?? 0) / 1000));
  const lags = moves.map((m) => m.catchup_lag_ms_p99 ?? 0);
  const summary = {
    rows: ROWS,
    rounds: ROUNDS,
    copy_rows_per_s: Math.round(median(copyRates)),
    copy_rows_per_s_spread: spread(copyRates),
    catchup_lag_ms_p99: Math.round(median(lags)),
    catchup_lag_ms_p99_spread: spread(lags),
    write_pause_ms_p99: Math.round(p(pauses, 0.99)),
    write_pause_ms_max: Math.round(Math.max(0, ...pauses)),
    writes_in_cutover_windows: pauses.length,
    moving_write_p50_quiet_ms: round(baseline),
    other_shards_p99_ms: { quiet: round(p(otherA, 0.99)), moving: round(p(otherB, 0.99)) },
    other_shards_p99_ratio: round(p(otherB, 0.99) / p(otherA, 0.99), 2),
    failed_requests: result.failed,
    failed_by_code: result.errors,
    requests: result.requests,
    client_cpu_us_per_request: round(result.cpuUs / Math.max(1, result.requests)),
    fence_ms: moves.map((m) => m.fence_ms),
    fence_steps_ms: moves.map((m) => Object.fromEntries(Object.entries(m.phase_ms).filter(([k]) => k.startsWith('fence_')))),
    rename_after_fence_ms: moves.map((m) => m.phase_ms['rename'] ?? null),
    max_rows_per_second: MAX_ROWS_PER_S ? Number(MAX_ROWS_PER_S) : 'default (5000)',
    host_busy_pct: { quiet: spread(inSide('A').map((w) => w.busy)), moving: spread(inSide('B').map((w) => w.busy)) },
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
});
