/**
 * npm run bench:analytics — issue 18's benchmark. Built so far: global IDs (`router.nextId`).
 *
 * - Side A: `router.nextId(name)` with the default blocks (1,000 growing to 1,000,000 IDs per
 *   lease of `<metaDatabase>.id_segments` on the first instance), one caller awaiting each ID,
 *   BENCH_IDS (2,000,000) IDs per round.
 * - Side B: the same allocator with blocks of one ID — a round trip to the table per ID, what a
 *   sequence table without segments costs — BENCH_PER_ID (2,000) IDs per round.
 * - Rounds alternate A B A B … (BENCH_ROUNDS, 3 of each); per side the median and spread of
 *   IDs per second, client CPU per ID (`process.cpuUsage`) and how busy the host was.
 *
 * The archival, scatter GROUP BY and archive fields of the issue are not built yet and not printed.
 * Progress on stderr; last stdout line: one JSON object with `next_id_per_s` (target ≥ 1,000,000).
 */
import { createRouter, loadClusterConfig, type Router } from 'shardline';
import { bundledClusterConfig, parseClusterConfig } from 'shardline/config';
import { onCluster } from './cluster.js';
import { hostSpan, median, round, spread } from './stats.js';

const IDS = Number(process.env['BENCH_IDS'] ?? 2_000_000);
const PER_ID = Number(process.env['BENCH_PER_ID'] ?? 2000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const log = (m: string) => process.stderr.write(`[bench:analytics] ${m}\n`);

interface Run {
  ids_per_s: number;
  cpu_ns_per_id: number;
  host_busy_pct: number;
}

async function side(router: Router, name: string, n: number): Promise<Run> {
  const span = hostSpan();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let last = 0n;
  for (let i = 0; i < n; i++) {
    const id = await router.nextId(name);
    if (id <= last) throw new Error(`IDs not increasing: ${id} after ${last}`);
    last = id;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  return {
    ids_per_s: Math.round(n / seconds),
    cpu_ns_per_id: Math.round(((cpu.user + cpu.system) * 1000) / n),
    host_busy_pct: span().host_busy_pct,
  };
}

await onCluster(async () => {
  const base = loadClusterConfig(bundledClusterConfig);
  const segments = await createRouter(base);
  const perId = await createRouter(
    parseClusterConfig({ ...structuredClone(base), router: { ...base.router, ids: { initialBlock: 1, maxBlock: 1 } } }),
  );
  const name = `bench_ids_${process.pid}`;
  const a: Run[] = [];
  const b: Run[] = [];
  try {
    await segments.nextId(name);
    await perId.nextId(name);
    for (let r = 0; r < ROUNDS; r++) {
      a.push(await side(segments, name, IDS));
      log(`round ${r + 1} A (segments): ${a.at(-1)!.ids_per_s} IDs/s, ${a.at(-1)!.cpu_ns_per_id} ns CPU per ID`);
      b.push(await side(perId, name, PER_ID));
      log(`round ${r + 1} B (one ID per lease): ${b.at(-1)!.ids_per_s} IDs/s, ${b.at(-1)!.cpu_ns_per_id} ns CPU per ID`);
    }
  } finally {
    await segments.close();
    await perId.close();
  }
  const pick = (runs: Run[], k: keyof Run) => runs.map((x) => x[k]);
  const summary = {
    next_id_per_s: Math.round(median(pick(a, 'ids_per_s'))),
    next_id_per_s_spread: spread(pick(a, 'ids_per_s')),
    next_id_cpu_ns_per_id: Math.round(median(pick(a, 'cpu_ns_per_id'))),
    per_id_lease_per_s: Math.round(median(pick(b, 'ids_per_s'))),
    per_id_lease_per_s_spread: spread(pick(b, 'ids_per_s')),
    per_id_lease_cpu_ns_per_id: Math.round(median(pick(b, 'cpu_ns_per_id'))),
    ratio_vs_per_id_lease: round(median(pick(a, 'ids_per_s')) / median(pick(b, 'ids_per_s')), 1),
    host_busy_pct: { segments: spread(pick(a, 'host_busy_pct')), per_id: spread(pick(b, 'host_busy_pct')) },
    rounds: ROUNDS,
    ids_per_round: { segments: IDS, per_id: PER_ID },
    targets: { next_id_per_s: '>= 1000000' },
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
});
