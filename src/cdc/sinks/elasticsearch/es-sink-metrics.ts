import { Counter, Histogram, type Registry } from 'prom-client';

/** What the Elasticsearch sink reports. A no-op implementation is used without a registry. */
export interface EsSinkMetrics {
  /** Row images written (created or updated). */
  indexed(table: string, n: number): void;
  /** Tombstones written (deletes, and old keys of primary key changes). */
  deleted(table: string, n: number): void;
  /** Writes refused because ES held a newer version (stale replays): success in effect. */
  versionConflicts(table: string, n: number): void;
  deadLetters(table: string, n: number): void;
  /** One bulk request: its outcome (`ok`, `partial` when items must be retried, `failed`) and duration. */
  bulk(outcome: 'ok' | 'partial' | 'failed', seconds: number): void;
  /** One retry round, by reason (`http_429`, `item_503`, `connection`, `timeout`, `alias_missing`…). */
  retry(reason: string): void;
}

const noop: EsSinkMetrics = {
  indexed() {},
  deleted() {},
  versionConflicts() {},
  deadLetters() {},
  bulk() {},
  retry() {},
};

/**
 * Metrics of the Elasticsearch sink on the caller's prom-client registry (names below with the
 * default prefix). Sinks sharing a registry share the metrics.
 *
 * - `shardline_es_docs_indexed_total{table}`, `shardline_es_docs_deleted_total{table}`
 * - `shardline_es_version_conflicts_total{table}`, `shardline_es_dead_letters_total{table}`
 * - `shardline_es_bulk_duration_seconds{outcome}` (histogram: from when a request goes out to its answer, not the wait
 *   for one of `cdc.elasticsearch.concurrency` slots), `shardline_es_retries_total{reason}`
 */
export function createEsSinkMetrics(registry?: Registry, prefix = 'shardline_'): EsSinkMetrics {
  if (!registry) return noop;
  const registers = [registry];
  const counter = (name: string, help: string, labelNames: string[]): Counter => {
    const existing = registry.getSingleMetric(`${prefix}${name}`);
    return existing instanceof Counter ? existing : new Counter({ name: `${prefix}${name}`, help, labelNames, registers });
  };
  const indexed = counter('es_docs_indexed_total', 'Row images written to Elasticsearch, by logical table', ['table']);
  const deleted = counter('es_docs_deleted_total', 'Tombstones written to Elasticsearch (deletes and old primary keys), by logical table', [
    'table',
  ]);
  const conflicts = counter(
    'es_version_conflicts_total',
    'Writes Elasticsearch refused because it held a newer version (success in effect), by logical table',
    ['table'],
  );
  const dead = counter('es_dead_letters_total', 'Records Elasticsearch refused for good, by logical table', ['table']);
  const retries = counter('es_retries_total', 'Retry rounds of the Elasticsearch sink, by reason', ['reason']);
  const histogramName = `${prefix}es_bulk_duration_seconds`;
  const existing = registry.getSingleMetric(histogramName);
  const latency =
    existing instanceof Histogram
      ? existing
      : new Histogram({
          name: histogramName,
          help: 'Elasticsearch bulk request duration by outcome (ok, partial, failed)',
          labelNames: ['outcome'],
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
          registers,
        });
  return {
    indexed: (table, n) => n > 0 && indexed.inc({ table }, n),
    deleted: (table, n) => n > 0 && deleted.inc({ table }, n),
    versionConflicts: (table, n) => n > 0 && conflicts.inc({ table }, n),
    deadLetters: (table, n) => n > 0 && dead.inc({ table }, n),
    bulk: (outcome, seconds) => latency.observe({ outcome }, seconds),
    retry: (reason) => retries.inc({ reason }),
  };
}
