// What the e2e bench reads from the worker process: /proc (RSS, CPU), /metrics (Prometheus text),
// and, with BENCH_CPU_PROF=1, the V8 CPU profile it writes on exit (self time per function).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const PAGE_TICKS = 100; // USER_HZ on Linux

/** VmRSS and VmHWM of a process in MB (null once it is gone). */
export function procMemory(pid: number): { rssMb: number; hwmMb: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** User + system CPU seconds a process has used. */
export function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / PAGE_TICKS;
  } catch {
    return 0;
  }
}

/** The host's busy and total CPU ticks (all cores), from /proc/stat. */
export function hostCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** One scrape of a Prometheus text exposition: series name{labels} → value. */
export type Scrape = Map<string, number>;

export function parseMetrics(text: string): Scrape {
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

const labelsOf = (series: string): Record<string, string> => {
  const open = series.indexOf('{');
  if (open < 0) return {};
  const out: Record<string, string> = {};
  for (const m of series.slice(open + 1, -1).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!;
  return out;
};
const nameOf = (series: string) => (series.includes('{') ? series.slice(0, series.indexOf('{')) : series);
const matches = (labels: Record<string, string>, filter: Record<string, string>) =>
  Object.entries(filter).every(([k, v]) => labels[k] === v);

/** Sum of a counter's series (matching `filter`) between two scrapes. */
export function counterDelta(before: Scrape, after: Scrape, name: string, filter: Record<string, string> = {}): number {
  let sum = 0;
  for (const [series, v] of after) {
    if (nameOf(series) !== name || !matches(labelsOf(series), filter)) continue;
    sum += v - (before.get(series) ?? 0);
  }
  return sum;
}

export interface HistogramSummary {
  count: number;
  mean_ms: number | null;
  /** Upper bound of the bucket holding the quantile (Prometheus buckets: coarse). */
  p50_le_ms: number | null;
  p99_le_ms: number | null;
}

/** A histogram's observations between two scrapes (all series matching `filter` added up). */
export function histogramDelta(before: Scrape, after: Scrape, name: string, filter: Record<string, string> = {}): HistogramSummary {
  const buckets = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const [series, v] of after) {
    const n = nameOf(series);
    const labels = labelsOf(series);
    if (!n.startsWith(name) || !matches(labels, filter)) continue;
    const d = v - (before.get(series) ?? 0);
    if (n === `${name}_bucket`) {
      const le = labels['le'] === '+Inf' ? Infinity : Number(labels['le']);
      buckets.set(le, (buckets.get(le) ?? 0) + d);
    } else if (n === `${name}_count`) count += d;
    else if (n === `${name}_sum`) sum += d;
  }
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const quantile = (q: number) => {
    if (count === 0) return null;
    const hit = sorted.find(([, c]) => c >= q * count);
    return hit ? (hit[0] === Infinity ? Infinity : Math.round(hit[0] * 1000)) : null;
  };
  return { count, mean_ms: count ? Number(((sum / count) * 1000).toFixed(1)) : null, p50_le_ms: quantile(0.5), p99_le_ms: quantile(0.99) };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** The functions with the most self time in the newest .cpuprofile of a directory. */
export function topSelfTime(
  dir: string,
  top = 25,
): { file: string; totalMs: number; rows: { fn: string; selfMs: number; pct: number }[] } | null {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return null;
  const file = path.join(dir, files.sort().pop()!);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const n = byId.get(id)!;
    const url = n.callFrame.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  const rows = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, ms]) => ({ fn, selfMs: Math.round(ms), pct: Number(((ms / total) * 100).toFixed(1)) }));
  return { file, totalMs: Math.round(total), rows };
}

/** Self time added up by package / source folder (dist/cdc/kafka, node_modules/kafkajs, (gc), …). */
export function selfTimeByArea(dir: string): Record<string, number> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return {};
  const profile = JSON.parse(readFileSync(path.join(dir, files.sort().pop()!), 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const areas = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const { url, functionName } = byId.get(id)!.callFrame;
    let area: string;
    const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    const dist = /\/dist\/(.+)\/[^/]+$/.exec(url);
    if (nm) area = `node_modules/${nm[1]}`;
    else if (dist) area = `dist/${dist[1]}`;
    else if (url.startsWith('node:')) area = 'node: (core)';
    else area = functionName.startsWith('(') ? functionName : '(native / other)';
    areas.set(area, (areas.get(area) ?? 0) + dt);
  });
  return Object.fromEntries([...areas].sort((a, b) => b[1] - a[1]).map(([a, ms]) => [a, Number(((ms / total) * 100).toFixed(1))]));
}

/** PIDs of the local cluster's services (from `<state dir>/run/<service>.json`). */
export function servicePids(stateDir: string): Record<string, number> {
  const run = path.join(stateDir, 'run');
  const out: Record<string, number> = {};
  try {
    for (const f of readdirSync(run).filter((x) => x.endsWith('.json'))) {
      const pid = Number((JSON.parse(readFileSync(path.join(run, f), 'utf8')) as { pid?: number }).pid);
      if (pid > 0) out[f.slice(0, -5)] = pid;
    }
  } catch {
    /* no state: Docker mode or elsewhere */
  }
  return out;
}

/** The sum of a metric's series in one scrape whose labels include `labels`. */
export const metric = (m: Scrape, name: string, labels: Record<string, string>): number => {
  let sum = 0;
  for (const [k, v] of m) {
    if (!k.startsWith(`${name}{`) && k !== name) continue;
    if (Object.entries(labels).every(([l, val]) => k.includes(`${l}="${val}"`))) sum += v;
  }
  return sum;
};

/** Milliseconds Elasticsearch's threads spent per kind of work on the local node (cumulative), and its search count. */
export interface EsWork {
  indexing_ms: number;
  refresh_ms: number;
  merge_ms: number;
  search_ms: number;
  searches: number;
}

/**
 * Elasticsearch's own accounting of where its time went (`_nodes/_local/stats`, cumulative over the
 * node's life, removed indices included): read before and after a span, the difference shows whether
 * indexing, refreshes, merges or the bench's own searches took the time. Thread time, not CPU (a
 * thread waiting for a core on a busy host counts); null when the node does not answer.
 */
export async function esWork(node: string): Promise<EsWork | null> {
  try {
    const res = await fetch(`${node}/_nodes/_local/stats/indices/indexing,refresh,merge,search`);
    if (!res.ok) return null;
    const body = (await res.json()) as { nodes: Record<string, { indices: Record<string, Record<string, number>> }> };
    const i = Object.values(body.nodes)[0]?.indices;
    if (!i) return null;
    return {
      indexing_ms: i['indexing']?.['index_time_in_millis'] ?? 0,
      refresh_ms: i['refresh']?.['total_time_in_millis'] ?? 0,
      merge_ms: i['merges']?.['total_time_in_millis'] ?? 0,
      search_ms: (i['search']?.['query_time_in_millis'] ?? 0) + (i['search']?.['fetch_time_in_millis'] ?? 0),
      searches: i['search']?.['query_total'] ?? 0,
    };
  } catch {
    return null;
  }
}

/** What Elasticsearch did between two {@link esWork} reads, as ms of thread time per second of the span. */
export function esWorkDelta(before: EsWork | null, after: EsWork | null, seconds: number): Record<string, number> | null {
  if (!before || !after || seconds <= 0) return null;
  const per = (k: keyof EsWork) => Math.round(((after[k] - before[k]) / seconds) * 10) / 10;
  return {
    indexing_ms_per_s: per('indexing_ms'),
    refresh_ms_per_s: per('refresh_ms'),
    merge_ms_per_s: per('merge_ms'),
    search_ms_per_s: per('search_ms'),
    searches_per_s: per('searches'),
  };
}
