import type { Command } from 'commander';
import { runArchival, verifyArchival, type ArchivalRunReport, type ArchivalVerifyReport } from '../archival/index.js';
import type { Logger } from '../log/logger.js';
import { loadCommandConfig } from './config-choice.js';
import { createProgress } from './progress-bar.js';
import { runCommand } from './run-command.js';

/** The lines a person reads after `archival run` (without --json). */
export function archivalRunText(r: ArchivalRunReport): string {
  const lines = r.tables.map((t) =>
    r.dry_run
      ? `${t.table}: ${t.rows_to_delete} rows with ${t.column} < ${t.cut} would be deleted (${t.physical_tables} physical tables counted in ${t.seconds.toFixed(1)} s)`
      : `${t.table}: ${t.rows_deleted} rows with ${t.column} < ${t.cut} deleted in ${t.batches} batches over ${t.physical_tables} physical tables, ${t.seconds.toFixed(1)} s`,
  );
  lines.push(
    r.dry_run
      ? `dry run ${r.run_id}: ${r.rows_to_delete} rows would be deleted; nothing was changed`
      : `run ${r.run_id}: ${r.rows_deleted} rows deleted in ${r.seconds.toFixed(1)} s (${r.rows_per_s} rows/s)${r.interrupted ? ' — interrupted: run it again to go on' : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

/** The lines a person reads after `archival verify` (without --json). */
export function archivalVerifyText(r: ArchivalVerifyReport): string {
  const lines = r.tables.map(
    (t) =>
      `${t.table}: ${t.removed_from_shards} rows removed from the shards (${t.batches} batches), ${t.marked_archived} marked archived in the archive${
        t.difference !== 0 ? ` — DIFFERENCE ${t.difference > 0 ? '+' : ''}${t.difference}` : ' — equal'
      }${t.note ? ` (${t.note})` : ''}`,
  );
  lines.push(
    r.differences
      ? `${r.differences} table(s) differ: rows removed from the shards that the archive does not hold as archived (or the reverse); right after a run the CDC may not have applied every batch yet`
      : 'every archived table matches',
  );
  return `${lines.join('\n')}\n`;
}

/** `shardline archival run|verify`. */
export function registerArchivalCommands(program: Command, log: Logger): void {
  const archival = program
    .command('archival')
    .description("delete rows older than each table's `archival` config from the shards; the archive keeps them (marked _archived = 1)");
  archival
    .command('run')
    .description(
      'delete the rows older than the cut (NOW − archival.olderThan) from every physical table of each table with an archival config, in primary-key batches of archival.batchRows (one transaction each, with its marker row for the CDC), at most archival.maxRowsPerSecond rows per second; killed, it loses at most the open batch — run it again to go on',
    )
    .option('--table <table>', 'only this logical table (it must have an archival config)')
    .option('--dry-run', 'count the rows that would be deleted per table; change nothing')
    .option('--config <file>', 'cluster config')
    .option('--json', 'print the report as one JSON object')
    .action((opts: { table?: string; dryRun?: boolean; config?: string; json?: boolean }, command: Command) => {
      const flags = command.optsWithGlobals<{ config?: string; json?: boolean }>();
      const json = (flags.json ?? opts.json) === true;
      return runCommand(
        log,
        async () => {
          const { config } = loadCommandConfig(flags.config ?? opts.config);
          const stop = new AbortController();
          const onSignal = () => {
            if (stop.signal.aborted) process.exit(130);
            process.stderr.write('shardline: stopping after the batches in flight (again to quit at once; an open batch is rolled back)\n');
            stop.abort();
          };
          process.on('SIGINT', onSignal);
          process.on('SIGTERM', onSignal);
          const progress = json ? null : createProgress(opts.dryRun ? 'archival dry run' : 'archival', log);
          try {
            const report = await runArchival(config, {
              table: opts.table,
              dryRun: opts.dryRun === true,
              log,
              signal: stop.signal,
              onProgress: (e) => progress?.update(e.done, e.total, `${e.table}: ${e.rows} rows${opts.dryRun ? ' to delete' : ' deleted'}`),
            });
            progress?.finish(report.interrupted ? 'archival interrupted' : 'archival done');
            process.stdout.write(json ? `${JSON.stringify(report)}\n` : archivalRunText(report));
            return report.interrupted ? 130 : 0;
          } finally {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
          }
        },
        { json },
      );
    });
  archival
    .command('verify')
    .description(
      'per table with an archival config: the rows the job removed from the shards (its marker rows on every instance) against the rows the archive marks _archived = 1; exit status 1 when they differ',
    )
    .option('--table <table>', 'only this logical table')
    .option('--config <file>', 'cluster config')
    .option('--json', 'print { tables: [...] } as one JSON object')
    .action((opts: { table?: string; config?: string; json?: boolean }, command: Command) => {
      const flags = command.optsWithGlobals<{ config?: string; json?: boolean }>();
      const json = (flags.json ?? opts.json) === true;
      return runCommand(
        log,
        async () => {
          const { config } = loadCommandConfig(flags.config ?? opts.config);
          const report = await verifyArchival(config, { table: opts.table });
          process.stdout.write(json ? `${JSON.stringify(report)}\n` : archivalVerifyText(report));
          if (report.differences && json) process.stderr.write(archivalVerifyText(report));
          return report.differences ? 1 : 0;
        },
        { json },
      );
    });
}
