import { Counter, Histogram, type Registry } from 'prom-client';

/** What the archive sink reports. A no-op implementation is used when no registry is injected. */
export interface ArchiveMetrics {
  /** Rows committed, by kind (`upsert` or `delete`, a delete being a `_deleted = 1` mark). */
  rowsWritten(table: string, kind: 'upsert' | 'delete', n: number): void;
  /** Rows the version guard left unchanged (an older or replayed version). */
  staleRows(table: string, n: number): void;
  deadLetters(table: string, n: number): void;
  /** Duration of one committed archive transaction. */
  batchDuration(seconds: number): void;
  /** A failed attempt that will be retried, by error label. */
  retry(reason: string): void;
}

const noop: ArchiveMetrics = {
  rowsWritten() {},
  staleRows() {},
  deadLetters() {},
  batchDuration() {},
  retry() {},
};

/** Archive sink metrics on the caller's prom-client registry; a no-op without one. */
export function createArchiveMetrics(registry?: Registry, prefix = 'shardline_'): ArchiveMetrics {
  if (!registry) return noop;
  const registers = [registry];
  const rows = new Counter({
    name: `${prefix}archive_rows_written_total`,
    help: 'Archive rows committed, by logical table and kind (upsert, delete)',
    labelNames: ['table', 'kind'],
    registers,
  });
  const stale = new Counter({
    name: `${prefix}archive_stale_rows_total`,
    help: 'Archive rows left unchanged by the version guard (older or replayed versions), by logical table',
    labelNames: ['table'],
    registers,
  });
  const dead = new Counter({
    name: `${prefix}archive_dead_letters_total`,
    help: 'Records the archive refused for good, by logical table',
    labelNames: ['table'],
    registers,
  });
  const duration = new Histogram({
    name: `${prefix}archive_batch_duration_seconds`,
    help: 'Duration of committed archive transactions',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const retries = new Counter({
    name: `${prefix}archive_retries_total`,
    help: 'Archive attempts retried after a failure, by error',
    labelNames: ['reason'],
    registers,
  });
  return {
    rowsWritten: (table, kind, n) => rows.inc({ table, kind }, n),
    staleRows: (table, n) => stale.inc({ table }, n),
    deadLetters: (table, n) => dead.inc({ table }, n),
    batchDuration: (s) => duration.observe(s),
    retry: (reason) => retries.inc({ reason }),
  };
}
