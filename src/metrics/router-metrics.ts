import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Pool occupancy as the metrics read it. */
export interface PoolGaugeSource {
  stats(): { instance: string; borrowed: number; pending: number; size: number }[];
}

/** What the router reports. A no-op implementation is used when no registry is injected. */
export interface RouterMetrics {
  query(route: string, statement: string): void;
  queryFailed(route: string, code: string): void;
  instanceLatency(instance: string, seconds: number): void;
  planCache(hit: boolean): void;
  watchPools(source: PoolGaugeSource): void;
}

const noop: RouterMetrics = {
  query() {},
  queryFailed() {},
  instanceLatency() {},
  planCache() {},
  watchPools() {},
};

/**
 * Router metrics registered on the caller's prom-client registry (prom-client is never used as
 * a hidden global). Without a registry, metrics are a no-op.
 */
export function createRouterMetrics(registry?: Registry, prefix = 'shardline_'): RouterMetrics {
  if (!registry) return noop;
  const registers = [registry];
  const queries = new Counter({ name: `${prefix}router_queries_total`, help: 'Routed statements by route kind and statement type', labelNames: ['route', 'statement'], registers });
  const failures = new Counter({ name: `${prefix}router_query_failures_total`, help: 'Failed routed statements by route kind and error code', labelNames: ['route', 'code'], registers });
  const latency = new Histogram({
    name: `${prefix}instance_query_duration_seconds`,
    help: 'Round-trip time of physical statements per instance',
    labelNames: ['instance'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const cache = new Counter({ name: `${prefix}plan_cache_lookups_total`, help: 'Plan cache lookups by result', labelNames: ['result'], registers });
  let pools: PoolGaugeSource | undefined;
  new Gauge({
    name: `${prefix}pool_connections`,
    help: 'Connections per instance pool by state (in_use, waiting, open)',
    labelNames: ['instance', 'state'],
    registers,
    collect() {
      this.reset();
      for (const s of pools?.stats() ?? []) {
        this.set({ instance: s.instance, state: 'in_use' }, s.borrowed);
        this.set({ instance: s.instance, state: 'waiting' }, s.pending);
        this.set({ instance: s.instance, state: 'open' }, s.size);
      }
    },
  });
  return {
    query: (route, statement) => queries.inc({ route, statement }),
    queryFailed: (route, code) => failures.inc({ route, code }),
    instanceLatency: (instance, seconds) => latency.observe({ instance }, seconds),
    planCache: (hit) => cache.inc({ result: hit ? 'hit' : 'miss' }),
    watchPools: (source) => {
      pools = source;
    },
  };
}
