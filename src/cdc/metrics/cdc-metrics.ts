import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What the CDC worker reports. A no-op implementation is used without a registry. */
export interface CdcMetrics {
  rows(instance: string, table: string, n: number): void;
  transaction(instance: string, commitTimeMs: number | null): void;
  idle(instance: string): void;
  kafkaCommit(instance: string, seconds: number, events: number): void;
  reconnect(instance: string): void;
  reading(instance: string, up: boolean): void;
  sinkApplied(sink: string, table: string, n: number, seconds: number): void;
  sinkLatency(sink: string, seconds: number): void;
  /** Whether a sink's consumer or writes keep failing (1) or it applies again (0). */
  sinkFailing(sink: string, failing: boolean): void;
  deadLetter(sink: string, table: string): void;
  /** Rows a snapshot published (`r` events). */
  snapshotRows(instance: string, table: string, n: number): void;
  /** Tables of an instance's snapshot not read to the end yet. */
  snapshotRemaining(instance: string, tables: number): void;
  snapshotRunning(instance: string, running: boolean): void;
}

const noop: CdcMetrics = {
  rows() {},
  transaction() {},
  idle() {},
  kafkaCommit() {},
  reconnect() {},
  reading() {},
  sinkApplied() {},
  sinkLatency() {},
  sinkFailing() {},
  deadLetter() {},
  snapshotRows() {},
  snapshotRemaining() {},
  snapshotRunning() {},
};

/**
 * CDC metrics on the caller's prom-client registry (never a hidden global). The counters alerts
 * watch for increases (reconnects, dead letters) start at 0 as soon as their instance is read or
 * their sink applies a table: a series that appears with its first increment is invisible to
 * Prometheus's `increase()`, so that first event would never alert.
 */
export function createCdcMetrics(registry?: Registry, prefix = 'shardline_'): CdcMetrics {
  if (!registry) return noop;
  const registers = [registry];
  const rows = new Counter({
    name: `${prefix}cdc_rows_total`,
    help: 'Changed rows read from the binlog and published, by instance and logical table',
    labelNames: ['instance', 'table'],
    registers,
  });
  const txns = new Counter({
    name: `${prefix}cdc_transactions_total`,
    help: 'Source transactions read, by instance',
    labelNames: ['instance'],
    registers,
  });
  const lag = new Gauge({
    name: `${prefix}cdc_lag_seconds`,
    help: 'Now minus the commit time of the last source transaction read (0 when caught up and idle)',
    labelNames: ['instance'],
    registers,
  });
  const commits = new Histogram({
    name: `${prefix}cdc_kafka_commit_seconds`,
    help: 'Kafka transaction commit latency',
    labelNames: ['instance'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const published = new Counter({
    name: `${prefix}cdc_published_events_total`,
    help: 'Change events committed to Kafka, by instance',
    labelNames: ['instance'],
    registers,
  });
  const reconnects = new Counter({
    name: `${prefix}cdc_reconnects_total`,
    help: 'Restarts of an instance reader after a failure',
    labelNames: ['instance'],
    registers,
  });
  const up = new Gauge({
    name: `${prefix}cdc_instance_reading`,
    help: '1 while this worker reads the instance',
    labelNames: ['instance'],
    registers,
  });
  const applied = new Counter({
    name: `${prefix}sink_records_total`,
    help: 'Records applied by a sink, by table',
    labelNames: ['sink', 'table'],
    registers,
  });
  const applySeconds = new Histogram({
    name: `${prefix}sink_write_seconds`,
    help: 'Sink batch write latency',
    labelNames: ['sink'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers,
  });
  const e2e = new Histogram({
    name: `${prefix}sink_commit_to_applied_seconds`,
    help: 'Source commit to applied in the sink',
    labelNames: ['sink'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers,
  });
  const failing = new Gauge({
    name: `${prefix}sink_failing`,
    help: 'Whether a sink is failing (its consumer crashed or its writes fail, and nothing was applied since): 1, else 0',
    labelNames: ['sink'],
    registers,
  });
  const dead = new Counter({
    name: `${prefix}sink_dead_letters_total`,
    help: 'Records a sink refused for good (sent to the dead-letter topic)',
    labelNames: ['sink', 'table'],
    registers,
  });
  const snapshotRows = new Counter({
    name: `${prefix}snapshot_rows_total`,
    help: 'Rows published by snapshots (op r)',
    labelNames: ['instance', 'table'],
    registers,
  });
  const snapshotRemaining = new Gauge({
    name: `${prefix}snapshot_chunks_remaining`,
    help: 'Tables of a running snapshot not read to the end yet (each is one chunk or more)',
    labelNames: ['instance'],
    registers,
  });
  const snapshotRunning = new Gauge({
    name: `${prefix}snapshot_running`,
    help: '1 while a snapshot of the instance runs',
    labelNames: ['instance'],
    registers,
  });
  return {
    rows: (instance, table, n) => rows.inc({ instance, table }, n),
    snapshotRows: (instance, table, n) => snapshotRows.inc({ instance, table }, n),
    snapshotRemaining: (instance, tables) => snapshotRemaining.set({ instance }, tables),
    snapshotRunning: (instance, running) => snapshotRunning.set({ instance }, running ? 1 : 0),
    transaction: (instance, commitTimeMs) => {
      txns.inc({ instance });
      if (commitTimeMs !== null) lag.set({ instance }, Math.max(0, (Date.now() - commitTimeMs) / 1000));
    },
    idle: (instance) => lag.set({ instance }, 0),
    kafkaCommit: (instance, seconds, events) => {
      commits.observe({ instance }, seconds);
      published.inc({ instance }, events);
    },
    reconnect: (instance) => reconnects.inc({ instance }),
    reading: (instance, isUp) => {
      up.set({ instance }, isUp ? 1 : 0);
      reconnects.inc({ instance }, 0);
    },
    sinkApplied: (sink, table, n, seconds) => {
      applied.inc({ sink, table }, n);
      dead.inc({ sink, table }, 0);
      applySeconds.observe({ sink }, seconds);
    },
    sinkLatency: (sink, seconds) => e2e.observe({ sink }, seconds),
    sinkFailing: (sink, on) => failing.set({ sink }, on ? 1 : 0),
    deadLetter: (sink, table) => dead.inc({ sink, table }),
  };
}
