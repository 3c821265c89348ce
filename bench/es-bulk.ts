/**
 * npm run bench:es-bulk — what Elasticsearch's own CPU per document costs by bulk size, at a fixed
 * document rate: the sink's external-versioned index actions (the `users` shape of the demo) sent
 * at BENCH_RATE documents a second in bulks of BENCH_SMALL (20) against bulks of BENCH_LARGE
 * (200), each side for BENCH_SECONDS (20) into an index of its own (refresh BENCH_REFRESH, 300ms
 * like the sink's default), rounds alternating small, large, small, large… (BENCH_ROUNDS, 3).
 * Per run: Elasticsearch's JVM CPU (/proc, the local cluster's native service), the client's CPU
 * (process.cpuUsage), host busy %. Last stdout line: one JSON object — `es_us_per_doc_small` /
 * `…_large` (medians), `ratio_small_vs_large`, and every run. Needs the local cluster (started and
 * stopped for the run when it is down) in native mode (the JVM's pid).
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCluster } from './cluster.js';
import { hostCpu, procCpuSeconds, servicePids } from './e2e-probe.js';
import { median } from './stats.js';

const env = (key: string, fallback: number) => Number(process.env[key] ?? fallback);
const ES = process.env['ES_NODE'] ?? 'http://127.0.0.1:9200';
const RATE = env('BENCH_RATE', 1000);
const SMALL = env('BENCH_SMALL', 20);
const LARGE = env('BENCH_LARGE', 200);
const SECONDS = env('BENCH_SECONDS', 20);
const ROUNDS = env('BENCH_ROUNDS', 3);
const REFRESH = process.env['BENCH_REFRESH'] ?? '300ms';
const root = path.resolve(import.meta.dirname, '..', '..');

const log = (m: string) => process.stderr.write(`[bench:es-bulk] ${m}\n`);
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

interface Run {
  bulk: number;
  docs: number;
  docs_per_s: number;
  es_us_per_doc: number;
  client_us_per_doc: number;
  host_busy_pct: number;
}

async function es(method: string, p: string, body?: string, type = 'application/json'): Promise<unknown> {
  const res = await fetch(`${ES}${p}`, { method, headers: body ? { 'content-type': type } : {}, body });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
  return json;
}

function action(index: string, n: number): string {
  const id = String(10_000_000_000 + ((n * 7919) % 1_000_000_000));
  return (
    `{"index":{"_index":"${index}","_id":"${id}","version":${n},"version_type":"external_gte"}}\n` +
    JSON.stringify({
      uid: id,
      name: `user ${n}`,
      email: `u${n}@example.com`,
      balance: ((n % 100_000) / 100).toFixed(2),
      created_at: '2026-12-06T10:00:00.000000Z',
      status: n % 3,
      _shardline: { table: 'users', version: String(n), op: 'c', committed_at: Date.now() },
    }) +
    '\n'
  );
}

async function runOnce(esPid: number, bulk: number, label: string): Promise<Run> {
  const index = `bench-es-bulk-${process.pid}-${label}`;
  await es('PUT', `/${index}`, JSON.stringify({ settings: { number_of_shards: 1, number_of_replicas: 0, refresh_interval: REFRESH } }));
  try {
    let n = 0;
    const h0 = hostCpu();
    const c0 = procCpuSeconds(esPid);
    const u0 = process.cpuUsage();
    const t0 = performance.now();
    let next = t0;
    while (performance.now() - t0 < SECONDS * 1000) {
      let body = '';
      for (let i = 0; i < bulk; i++) body += action(index, ++n);
      const res = (await es('POST', '/_bulk?filter_path=errors', body, 'application/x-ndjson')) as { errors: boolean };
      if (res.errors) throw new Error('a bulk item failed');
      next += (bulk / RATE) * 1000;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const seconds = (performance.now() - t0) / 1000;
    const esCpu = procCpuSeconds(esPid) - c0;
    const u = process.cpuUsage(u0);
    const h1 = hostCpu();
    return {
      bulk,
      docs: n,
      docs_per_s: Math.round(n / seconds),
      es_us_per_doc: round((esCpu / n) * 1e6),
      client_us_per_doc: round((u.user + u.system) / n),
      host_busy_pct: round((100 * (h1.busy - h0.busy)) / (h1.total - h0.total)),
    };
  } finally {
    await es('DELETE', `/${index}`).catch(() => undefined);
  }
}

await onCluster(async () => {
  const esPid = servicePids(process.env['SHARDLINE_STATE_DIR'] || path.join(root, '.shardline'))['elasticsearch'];
  if (!esPid) throw new Error('no native Elasticsearch found in the cluster state (Docker mode?): its CPU cannot be read');
  const runs: Run[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const bulk of [SMALL, LARGE]) {
      const run = await runOnce(esPid, bulk, `${r}-${bulk}`);
      runs.push(run);
      log(
        `round ${r + 1}: bulks of ${bulk}: ${run.docs_per_s} docs/s, Elasticsearch ${run.es_us_per_doc} µs/doc, client ${run.client_us_per_doc} µs/doc, host ${run.host_busy_pct}% busy`,
      );
    }
  }
  const side = (bulk: number) => runs.filter((x) => x.bulk === bulk).map((x) => x.es_us_per_doc);
  const small = median(side(SMALL));
  const large = median(side(LARGE));
  process.stdout.write(
    `${JSON.stringify({
      rate: RATE,
      refresh_interval: REFRESH,
      bulk_small: SMALL,
      bulk_large: LARGE,
      es_us_per_doc_small: small,
      es_us_per_doc_large: large,
      es_us_per_doc_small_range: [Math.min(...side(SMALL)), Math.max(...side(SMALL))],
      es_us_per_doc_large_range: [Math.min(...side(LARGE)), Math.max(...side(LARGE))],
      ratio_small_vs_large: round(small / large, 2),
      runs,
    })}\n`,
  );
});
