import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Pool occupancy and connection health as the metrics read them. */
export interface PoolGaugeSource {
  stats(): {
    instance: string;
    breaker: string;
    pool: { borrowed: number; pending: number; size: number };
    tcp: { rttUs: number; retransmits: number } | null;
    events: { reapedIdle: number; rejectedOnBorrow: number };
  }[];
}

/** What the router reports. A no-op implementation is used when no registry is injected. */
export interface RouterMetrics {
  query(route: string, statement: string): void;
  queryFailed(route: string, code: string): void;
  instanceLatency(instance: string, seconds: number): void;
  planCache(hit: boolean): void;
  breakerState(instance: string, state: string): void;
  watchPools(source: PoolGaugeSource): void;
  /** A read that could go to a replica: where it was served (`replica`, `replica-waited`, `primary-…` and why). */
  replicaRead(instance: string, outcome: string): void;
}

const noop: RouterMetrics = {
  query() {},
  queryFailed() {},
  instanceLatency() {},
  planCache() {},
  breakerState() {},
  watchPools() {},
  replicaRead() {},
};

/**
 * Router metrics registered on the caller's prom-client registry (prom-client is never used as
 * a hidden global). Without a registry, metrics are a no-op.
 */
export function createRouterMetrics(registry?: Registry, prefix = 'shardline_'): RouterMetrics {
  if (!registry) return noop;
  const registers = [registry];
  const queries = new Counter({
    name: `${prefix}router_queries_total`,
    help: 'Routed statements by route kind and statement type',
    labelNames: ['route', 'statement'],
    registers,
  });
  const failures = new Counter({
    name: `${prefix}router_query_failures_total`,
    help: 'Failed routed statements by route kind and error code',
    labelNames: ['route', 'code'],
    registers,
  });
  const latency = new Histogram({
    name: `${prefix}instance_query_duration_seconds`,
    help: 'Round-trip time of physical statements per instance',
    labelNames: ['instance'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const cache = new Counter({
    name: `${prefix}plan_cache_lookups_total`,
    help: 'Plan cache lookups by result',
    labelNames: ['result'],
    registers,
  });
  let pools: PoolGaugeSource | undefined;
  new Gauge({
    name: `${prefix}pool_connections`,
    help: 'Connections per instance pool by state (in_use, waiting, open)',
    labelNames: ['instance', 'state'],
    registers,
    collect() {
      this.reset();
      for (const s of pools?.stats() ?? []) {
        this.set({ instance: s.instance, state: 'in_use' }, s.pool.borrowed);
        this.set({ instance: s.instance, state: 'waiting' }, s.pool.pending);
        this.set({ instance: s.instance, state: 'open' }, s.pool.size);
      }
    },
  });
  const BREAKER_CODE: Record<string, number> = { closed: 0, 'half-open': 1, open: 2 };
  new Gauge({
    name: `${prefix}breaker_state`,
    help: 'Circuit breaker per instance: 0 closed, 1 half-open, 2 open',
    labelNames: ['instance'],
    registers,
    collect() {
      for (const s of pools?.stats() ?? []) this.set({ instance: s.instance }, BREAKER_CODE[s.breaker] ?? -1);
    },
  });
  new Gauge({
    name: `${prefix}tcp_rtt_seconds`,
    help: "Mean TCP round-trip time over an instance pool's connections (TCP_INFO)",
    labelNames: ['instance'],
    registers,
    collect() {
      this.reset();
      for (const s of pools?.stats() ?? []) if (s.tcp) this.set({ instance: s.instance }, s.tcp.rttUs / 1e6);
    },
  });
  new Gauge({
    name: `${prefix}tcp_retransmits`,
    help: "Retransmitted segments over an instance pool's open connections (TCP_INFO)",
    labelNames: ['instance'],
    registers,
    collect() {
      this.reset();
      for (const s of pools?.stats() ?? []) if (s.tcp) this.set({ instance: s.instance }, s.tcp.retransmits);
    },
  });
  new Gauge({
    name: `${prefix}pool_dead_connections_removed`,
    help: 'Dead connections removed per instance, by how they were found (idle_watch, borrow_check)',
    labelNames: ['instance', 'found_by'],
    registers,
    collect() {
      for (const s of pools?.stats() ?? []) {
        this.set({ instance: s.instance, found_by: 'idle_watch' }, s.events.reapedIdle);
        this.set({ instance: s.instance, found_by: 'borrow_check' }, s.events.rejectedOnBorrow);
      }
    },
  });
  const transitions = new Counter({
    name: `${prefix}breaker_transitions_total`,
    help: 'Circuit breaker state changes per instance',
    labelNames: ['instance', 'to'],
    registers,
  });
  const replicaReads = new Counter({
    name: `${prefix}router_replica_reads_total`,
    help: 'Reads allowed on a replica, by instance and where they were served (replica, replica-waited, or primary and why)',
    labelNames: ['instance', 'outcome'],
    registers,
  });
  return {
    query: (route, statement) => queries.inc({ route, statement }),
    replicaRead: (instance, outcome) => replicaReads.inc({ instance, outcome }),
    queryFailed: (route, code) => failures.inc({ route, code }),
    instanceLatency: (instance, seconds) => latency.observe({ instance }, seconds),
    planCache: (hit) => cache.inc({ result: hit ? 'hit' : 'miss' }),
    breakerState: (instance, state) => transitions.inc({ instance, to: state }),
    watchPools: (source) => {
      pools = source;
    },
  };
}
