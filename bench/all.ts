/**
 * npm run bench — runs every benchmark one after another (each in its own process, so none warms
 * the next), keeps the last JSON line of each and prints one summary table: every numeric field,
 * with the target where one is set and whether it was met. The full results go to
 * build-bench/bench-summary.json. BENCH_ONLY=router,snapshot runs a subset. Last stdout line: one
 * JSON object { bench: result }.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';

/** Target per field: `min` (at least) or `max` (at most). */
const TARGETS: Record<string, Record<string, { min?: number; max?: number }>> = {
  router: {
    ratio_vs_direct: { min: 0.97 },
    client_cpu_ratio_vs_direct: { max: 1.1 },
    multi_shard_insert_100_ms: { max: 10 },
  },
  e2e: {
    sustained_rows_per_s: { min: 20_000 },
    p99_ms_at_5k: { max: 600 },
    worker_cpu_us_per_row_at_5k: { max: 20 },
    idle_worker_cores: { max: 0.02 },
  },
  snapshot: {
    ratio_vs_debezium: { min: 2 },
    router_p99_ratio_during_snapshot: { max: 1.5 },
  },
  stream: {
    ratio_vs_debezium_narrow: { min: 5 },
    ratio_vs_debezium_mixed: { min: 5 },
    ratio_to_kafka_vs_debezium_narrow: { min: 1 },
    ratio_to_kafka_vs_debezium_mixed: { min: 1 },
  },
  replica: {
    stale_reads_with_token: { max: 0 },
    planned_failover_write_pause_ms: { max: 1000 },
  },
  move: {
    write_pause_ms_p99: { max: 300 },
    other_shards_p99_ratio: { max: 1.5 },
    failed_requests: { max: 0 },
  },
  analytics: {
    next_id_per_s: { min: 1_000_000 },
  },
};

const BENCHES = ['router', 'pool', 'binlog', 'replica', 'move', 'analytics', 'snapshot', 'stream', 'es-bulk', 'e2e'] as const;
const root = path.resolve(import.meta.dirname, '..', '..');

function run(name: string): Promise<Record<string, unknown> | { error: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'build-bench', 'bench', `${name}.js`)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      process.stderr.write(d);
    });
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`exited with ${code}`);
        resolve(JSON.parse(last) as Record<string, unknown>);
      } catch (err) {
        resolve({ error: `bench:${name} ${(err as Error).message}` });
      }
    });
  });
}

const only = process.env['BENCH_ONLY']?.split(',').map((s) => s.trim());
const results: Record<string, unknown> = {};
const rows: string[][] = [];
for (const name of BENCHES) {
  if (only && !only.includes(name)) continue;
  process.stderr.write(`\n[bench] ${name} (load ${loadavg()[0]!.toFixed(2)})\n`);
  const result = await run(name);
  results[name] = result;
  if ('error' in result) {
    rows.push([name, 'error', String(result.error), '', '']);
    continue;
  }
  for (const [field, value] of Object.entries(result)) {
    if (typeof value !== 'number') continue;
    const target = TARGETS[name]?.[field];
    const met = target ? (target.min === undefined || value >= target.min) && (target.max === undefined || value <= target.max) : null;
    const goal = target ? (target.min !== undefined ? `≥ ${target.min}` : `≤ ${target.max}`) : '';
    rows.push([name, field, String(value), goal, met === null ? '' : met ? 'met' : 'MISSED']);
  }
}

const header = ['bench', 'field', 'value', 'target', ''];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
mkdirSync(path.join(root, 'build-bench'), { recursive: true });
writeFileSync(path.join(root, 'build-bench', 'bench-summary.json'), JSON.stringify(results, null, 2));
console.log(JSON.stringify(results));
