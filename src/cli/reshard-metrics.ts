import { Gauge, Registry } from 'prom-client';
import { startMetricsServer } from '../cdc/http/metrics-server.js';
import { MOVE_PHASES, type MoveMetrics, type MovePhase } from '../reshard/index.js';

/**
 * A shard move's progress as Prometheus gauges, served on `/metrics` while the move runs
 * (`reshard move|rollback --metrics-port`): rows copied, changes applied, catch-up lag, verify
 * progress, fence duration and the phase (1 for the current one).
 */
export async function serveMoveMetrics(
  port: number,
  labels: () => { shards: string; from: string; to: string },
): Promise<{ metrics: MoveMetrics; port: number; close(): Promise<void> }> {
  const registry = new Registry();
  const names = ['shards', 'from', 'to'] as const;
  const gauge = (name: string, help: string, extra: string[] = []) =>
    new Gauge({ name, help, labelNames: [...names, ...extra], registers: [registry] });
  const rows = gauge('shardline_reshard_rows_copied', 'Rows the copy phase has written to the target');
  const changes = gauge('shardline_reshard_changes_applied', 'Source binlog changes the catch-up has applied to the target');
  const lag = gauge('shardline_reshard_catchup_lag_seconds', 'How far the catch-up is behind the source binlog');
  const chunks = gauge('shardline_reshard_verify_chunks', 'Checksum chunks verified on both sides');
  const verified = gauge('shardline_reshard_verify_progress_ratio', 'Moved tables verified ÷ moved tables');
  const fence = gauge('shardline_reshard_fence_seconds', 'How long writes to the moving shards were fenced at the cut-over');
  const phase = gauge('shardline_reshard_phase', 'The phase the move is in (1) and the others (0)', ['phase']);
  let current: MovePhase = 'copy';
  const metrics: MoveMetrics = {
    phase: (p) => {
      current = p;
      for (const q of MOVE_PHASES) phase.set({ ...labels(), phase: q }, q === p ? 1 : 0);
    },
    rowsCopied: (n) => rows.set(labels(), n),
    changesApplied: (n) => changes.set(labels(), n),
    catchupLagMs: (ms) => lag.set(labels(), ms / 1000),
    verified: (n, done, total) => {
      chunks.set(labels(), n);
      verified.set(labels(), total ? done / total : 1);
    },
    fenceMs: (ms) => fence.set(labels(), ms / 1000),
  };
  const server = await startMetricsServer('127.0.0.1', port, registry, () => ({ ok: true, phase: current }));
  return { metrics, port: server.port, close: () => server.close() };
}
