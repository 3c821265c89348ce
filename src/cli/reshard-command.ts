import type { Command } from 'commander';
import { UsageError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import {
  DEFAULT_MOVE_OPTIONS,
  ShardMove,
  isUnfinished,
  parseShardList,
  shardListText,
  type MoveMetrics,
  type MovePhase,
  type MoveProgressEvent,
  type MoveReport,
  type MoveState,
} from '../reshard/index.js';
import { optionalIntFlag } from './cli-flags.js';
import { loadCommandConfig } from './config-choice.js';
import { serveMoveMetrics } from './reshard-metrics.js';
import { migrationsDir } from './migrate-command.js';
import { createProgress, type Progress } from './progress-bar.js';
import { runCommand } from './run-command.js';

/** The line a person reads (without --json). */
export function moveLine(r: MoveReport): string {
  const what = `${r.kind} of shards ${r.shards} from ${r.from} to ${r.to}`;
  if (r.phase !== 'done') return `${what}: stopped before ${r.phase} (${r.rows_copied} rows copied, ${r.changes_applied} changes applied)`;
  return `${what}: done in ${r.seconds} s — ${r.rows_copied} rows copied, ${r.changes_applied} changes applied, ${r.verified_chunks} chunks verified equal, write fence ${r.fence_ms} ms, shard map version ${r.map_version}`;
}

/** A status row of `reshard status`. */
export function statusOf(m: MoveState) {
  return {
    id: m.id,
    kind: m.kind,
    shards: shardListText(m.shards),
    from: m.from,
    to: m.to,
    phase: m.phase,
    rows_copied: Object.values(m.copied).reduce((n, c) => n + c.rows, 0),
    tables_copied: Object.values(m.copied).filter((c) => c.done).length,
    changes_applied: m.appliedChanges,
    differences: m.verify?.differences.length ?? 0,
    map_version: m.published,
    fence_ms: m.timings.fence ?? null,
    error: m.error,
    started_at: m.startedAt,
    updated_at: m.updatedAt,
  };
}

function bars(log: Logger, json: boolean): (e: MoveProgressEvent) => void {
  const open = new Map<string, Progress>();
  return (e) => {
    if (json) return;
    let p = open.get(e.phase);
    if (!p) {
      for (const [phase, q] of open) {
        q.finish(`${phase} done`);
        open.delete(phase);
      }
      open.set(e.phase, (p = createProgress(e.phase, log)));
    }
    p.update(e.done, e.total, e.note);
  };
}

/** Runs `fn` with the move's gauges served on `port` (none without it). */
async function withMoveMetrics<T>(
  portText: string | undefined,
  labels: () => { shards: string; from: string; to: string },
  fn: (metrics: MoveMetrics | undefined) => Promise<T>,
): Promise<T> {
  const port = optionalIntFlag('--metrics-port', portText, 0, 65535);
  if (port === undefined) return fn(undefined);
  const served = await serveMoveMetrics(port, labels);
  process.stderr.write(`shardline: the move's metrics are on http://127.0.0.1:${served.port}/metrics\n`);
  try {
    return await fn(served.metrics);
  } finally {
    await served.close();
  }
}

/**
 * Runs a reshard subcommand: `--config` and `--json` its own or the global ones, the config
 * loaded inside `runCommand` (a bad one is reported like any other failure).
 */
function runWithConfig(
  log: Logger,
  command: Command,
  opts: { config?: string; json?: boolean },
  body: (loaded: ReturnType<typeof loadCommandConfig>, json: boolean) => Promise<number>,
): Promise<void> {
  const flags = command.optsWithGlobals<{ config?: string; json?: boolean }>();
  const json = (flags.json ?? opts.json) === true;
  return runCommand(log, () => body(loadCommandConfig(flags.config ?? opts.config), json), { json });
}

/** `shardline reshard move|status`. */
export function registerReshardCommands(program: Command, log: Logger): void {
  const reshard = program.command('reshard').description('move shards between instances online (copy, catch-up, verify, cut-over)');
  reshard
    .command('move')
    .description(
      'move shards to another instance without downtime: copy their tables (created from the migrations) in primary-key chunks, apply the source binlog changes of those tables, verify chunked checksums on both sides, then fence writes to the moving shards only (a trigger on each of their tables on the source, armed by one row), let the target apply up to the fence and publish a new shard-map version that routers in every process pick up. Run again to resume a move that was interrupted',
    )
    .requiredOption('--shards <list>', 'logical shards, e.g. 768-831 or 0-3,9')
    .requiredOption('--to <instance>', 'the instance that takes the shards')
    .option('--dry-run', 'print what the move would do, change nothing')
    .option('--until <phase>', 'stop after this phase (copy, catchup, verify, cutover)')
    .option('--chunk-rows <n>', 'rows per copy chunk', String(DEFAULT_MOVE_OPTIONS.chunkRows))
    .option(
      '--max-rows-per-second <n>',
      'bound on the rows per second the copy and verify read from the source; 0: none',
      String(DEFAULT_MOVE_OPTIONS.maxRowsPerSecond),
    )
    .option(
      '--metrics-port <port>',
      "serve the move's gauges (rows copied, catch-up lag, verify progress, fence duration) on /metrics of 127.0.0.1:<port> while it runs",
    )
    .option('--dir <folder>', "migrations folder (required outside shardline's checkout)")
    .option('--config <file>', 'cluster config')
    .option('--json', 'print the report as one JSON object')
    .action(
      (
        opts: {
          shards: string;
          to: string;
          dryRun?: boolean;
          until?: string;
          chunkRows: string;
          maxRowsPerSecond?: string;
          metricsPort?: string;
          dir?: string;
          config?: string;
          json?: boolean;
        },
        command: Command,
      ) => {
        return runWithConfig(log, command, opts, async ({ config, choice }, json) => {
          const shards = parseShardList(opts.shards, config.sharding.shards);
          if (!shards)
            throw new UsageError(
              `--shards ${JSON.stringify(opts.shards)}: expected shards of 0 … ${config.sharding.shards - 1} such as 768-831 or 0-3,9`,
            );
          const chunkRows = Number(opts.chunkRows);
          if (!Number.isInteger(chunkRows) || chunkRows < 1 || chunkRows > 100_000)
            throw new UsageError('--chunk-rows: an integer of 1 … 100000');
          const maxRowsPerSecond = rowsPerSecondFlag(opts.maxRowsPerSecond);
          const until = opts.until ?? 'done';
          if (!['copy', 'catchup', 'verify', 'cutover', 'done'].includes(until))
            throw new UsageError('--until: copy, catchup, verify or cutover');
          optionalIntFlag('--metrics-port', opts.metricsPort, 0, 65535); // checked with --dry-run too
          let planned: MoveState | null = null;
          const labels = () => ({ shards: shardListText(shards), from: planned?.from ?? '', to: opts.to });
          return withMoveMetrics(opts.dryRun ? undefined : opts.metricsPort, labels, async (metrics) => {
            const move = new ShardMove(
              config,
              {
                ...DEFAULT_MOVE_OPTIONS,
                chunkRows,
                maxRowsPerSecond,
                migrationsDir: migrationsDir(opts.dir, choice.source === 'bundled demo config'),
              },
              bars(log, json),
              metrics,
            );
            if (opts.dryRun) {
              const state = await move.plan(shards, opts.to, 'move', true).finally(() => move.close());
              const out = {
                dry_run: true,
                shards: shardListText(shards),
                from: state.from,
                to: state.to,
                tables: state.shards.length * Object.keys(config.sharding.tables).length,
                map_version: state.mapVersion,
              };
              process.stdout.write(
                json
                  ? `${JSON.stringify(out)}\n`
                  : `would move shards ${out.shards} (${out.tables} tables) from ${out.from} to ${out.to} (shard map version ${out.map_version} → ${out.map_version + 1})\n`,
              );
              return 0;
            }
            return planAndRun(
              move,
              () => move.plan(shards, opts.to),
              (state) => (planned = state),
              until as MovePhase,
              json,
            );
          });
        });
      },
    );
  reshard
    .command('rollback')
    .description(
      'move the shards of the last finished move back to the instance they came from, the same way (copy, catch-up, verify, cut-over); run again to resume',
    )
    .option(
      '--max-rows-per-second <n>',
      'bound on the rows per second the copy and verify read from the source; 0: none',
      String(DEFAULT_MOVE_OPTIONS.maxRowsPerSecond),
    )
    .option('--dir <folder>', "migrations folder (required outside shardline's checkout)")
    .option('--metrics-port <port>', "serve the move's gauges on /metrics of 127.0.0.1:<port> while it runs")
    .option('--config <file>', 'cluster config')
    .option('--json', 'print the report as one JSON object')
    .action(
      (opts: { maxRowsPerSecond?: string; dir?: string; metricsPort?: string; config?: string; json?: boolean }, command: Command) => {
        return runWithConfig(log, command, opts, async ({ config, choice }, json) => {
          let planned: MoveState | null = null;
          const labels = () => ({
            shards: planned ? shardListText(planned.shards) : '',
            from: planned?.from ?? '',
            to: planned?.to ?? '',
          });
          return withMoveMetrics(opts.metricsPort, labels, async (metrics) => {
            const move = new ShardMove(
              config,
              {
                ...DEFAULT_MOVE_OPTIONS,
                maxRowsPerSecond: rowsPerSecondFlag(opts.maxRowsPerSecond),
                migrationsDir: migrationsDir(opts.dir, choice.source === 'bundled demo config'),
              },
              bars(log, json),
              metrics,
            );
            const plan = async () => {
              const unfinished = (await move.allMoves()).find((m) => isUnfinished(m) && m.kind === 'rollback');
              if (unfinished) return unfinished;
              const last = await move.lastMove();
              if (!last) throw new UsageError('nothing to roll back: no shard move has finished since the last rollback');
              return move.plan(last.shards, last.from, 'rollback');
            };
            return planAndRun(move, plan, (state) => (planned = state), 'done', json);
          });
        });
      },
    );
  reshard
    .command('cleanup')
    .description(
      'drop the tables finished moves left fenced (renamed `_moved_…`) on the instances the shards left; after this a move can only be undone by another move',
    )
    .option('--config <file>', 'cluster config')
    .option('--json', 'print { cleaned: [...] }')
    .action((opts: { config?: string; json?: boolean }, command: Command) => {
      return runWithConfig(log, command, opts, async ({ config }, json) => {
        const cleaned = await new ShardMove(config, { ...DEFAULT_MOVE_OPTIONS, migrationsDir: '' }).cleanup();
        if (json) process.stdout.write(`${JSON.stringify({ cleaned })}\n`);
        else if (!cleaned.length) process.stdout.write('nothing to clean up\n');
        else for (const c of cleaned) process.stdout.write(`${c.id}: dropped ${c.dropped} fenced table(s) on ${c.instance}\n`);
        return 0;
      });
    });
  reshard
    .command('abort')
    .description(
      'undo the unfinished move before its new shard map is out: drop its write fence on the source (writes to its shards resume if it was fenced) and its copies on the target; refused while another process runs it or once the map is published',
    )
    .option('--config <file>', 'cluster config')
    .option('--json', 'print what was undone as one JSON object')
    .action((opts: { config?: string; json?: boolean }, command: Command) => {
      return runWithConfig(log, command, opts, async ({ config }, json) => {
        const r = await new ShardMove(config, { ...DEFAULT_MOVE_OPTIONS, migrationsDir: '' }).abort();
        process.stdout.write(
          json
            ? `${JSON.stringify(r)}\n`
            : `${r.id}: ${r.kind} of shards ${r.shards} ${r.from} → ${r.to} aborted in ${r.phase}; ${r.triggers_dropped} fence trigger(s) dropped on ${r.from}, ${r.tables_dropped} copied table(s) dropped on ${r.to}\n`,
        );
        return 0;
      });
    });
  reshard
    .command('status')
    .description('the shard moves recorded on the instances, newest first: phase, rows copied, changes applied, differences, fence')
    .option('--config <file>', 'cluster config')
    .option('--json', 'print { moves: [...] }')
    .action((opts: { config?: string; json?: boolean }, command: Command) => {
      return runWithConfig(log, command, opts, async ({ config }, json) => {
        const move = new ShardMove(config, { ...DEFAULT_MOVE_OPTIONS, migrationsDir: '' });
        const moves = (await move.allMoves()).map(statusOf);
        if (json) process.stdout.write(`${JSON.stringify({ moves })}\n`);
        else if (!moves.length) process.stdout.write('no shard moves recorded\n');
        else
          for (const m of moves)
            process.stdout.write(
              `${m.id}: ${m.kind} of shards ${m.shards} ${m.from} → ${m.to}, ${m.phase}; ${m.rows_copied} rows copied (${m.tables_copied} tables), ${m.changes_applied} changes applied, ${m.differences} differences${m.fence_ms !== null ? `, fence ${m.fence_ms} ms` : ''}${m.error ? `; last error: ${m.error}` : ''}\n`,
            );
        return 0;
      });
    });
}

/**
 * Plans (or picks up) a move, runs it and prints its report. The move's sessions are closed
 * whatever happens: a refused plan left open would keep the process from exiting.
 */
async function planAndRun(
  move: ShardMove,
  plan: () => Promise<MoveState>,
  onPlanned: (state: MoveState) => void,
  until: MovePhase,
  json: boolean,
): Promise<number> {
  try {
    const state = await plan();
    onPlanned(state);
    const report = await move.run(state, until);
    process.stdout.write(json ? `${JSON.stringify(report)}\n` : `${moveLine(report)}\n`);
    return 0;
  } finally {
    await move.close();
  }
}

/** `--max-rows-per-second`: absent is the default bound, 0 none, else an integer of 100 … 10,000,000. */
function rowsPerSecondFlag(text: string | undefined): number | null {
  if (text === undefined) return DEFAULT_MOVE_OPTIONS.maxRowsPerSecond;
  const n = Number(text);
  if (text === '0') return null;
  if (!/^\d+$/.test(text) || n < 100 || n > 10_000_000)
    throw new UsageError(`--max-rows-per-second ${JSON.stringify(text)}: 0 (no bound) or an integer of 100 … 10000000`);
  return n;
}
