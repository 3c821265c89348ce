import path from 'node:path';
import type { Command } from 'commander';
import { currentMap } from '../reshard/index.js';
import { packageRoot } from '../config/index.js';
import { UsageError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { loadMigrations, migrationStatus, planMigrations, verifySchema, type MigrateStatus } from '../migrate/index.js';
import { openDbConnection } from '../net/index.js';
import { toJson as json } from './cli-error.js';
import { intFlag } from './cli-flags.js';
import { inOwnCheckout } from './config-choice.js';
import { applyMigrations, topologyFor } from './router-commands.js';
import { runCommand } from './run-command.js';

/** Exit status of `migrate status` / `--dry-run` when something is still to apply. */
export const EXIT_PENDING = 3;
/** Exit status when an applied migration was edited or removed, or `--verify` found drift. */
export const EXIT_DRIFT = 4;

interface MigrateFlags {
  config?: string;
  dir?: string;
  verify?: boolean;
  dryRun?: boolean;
  concurrency: string;
  json?: boolean;
}

/**
 * The migrations folder: `--dir`, else the bundled demo migrations — only with the bundled
 * demo config inside shardline's own checkout; a real cluster never gets the demo's tables by
 * a forgotten flag.
 */
export function migrationsDir(dir: string | undefined, bundledConfig: boolean, cwd = process.cwd()): string {
  if (dir !== undefined) {
    if (dir.trim() === '') throw new UsageError('--dir needs a folder, got an empty string');
    return path.resolve(cwd, dir);
  }
  if (bundledConfig && inOwnCheckout(cwd)) return path.join(packageRoot, 'migrations');
  throw new UsageError(
    "--dir FOLDER is required: the bundled demo migrations are a default only with the demo config in shardline's own checkout",
  );
}

function statusLines(status: MigrateStatus): string[] {
  const lines = status.migrations.map(
    (m) => `${m.state.padEnd(8)} ${m.id}  ${m.done}/${m.targets} targets${m.running ? `, ${m.running} interrupted` : ''}`,
  );
  for (const m of status.missing)
    lines.push(`missing  ${m.id}  applied on ${m.instances.join(', ')} (${m.targets} targets) but its file is gone from the folder`);
  lines.push(
    status.upToDate
      ? 'up to date'
      : `${status.pending} statement target(s) pending${status.missing.length ? `, ${status.missing.length} applied migration(s) missing` : ''}`,
  );
  return lines;
}

/** The exit status a status report stands for. */
export function statusExit(status: MigrateStatus): number {
  if (status.missing.length > 0 || status.migrations.some((m) => m.state === 'changed')) return EXIT_DRIFT;
  return status.upToDate ? 0 : EXIT_PENDING;
}

/** `migrate [--dry-run | --verify]` and `migrate status`. */
export function registerMigrateCommand(program: Command, log: Logger): void {
  const migrate = program
    .command('migrate')
    .description('apply pending migrations to every physical table; --dry-run shows what would run; --verify checks that all shards agree')
    .option('--config <file>', 'cluster config')
    .option('--dir <folder>', "migrations folder (required outside shardline's checkout)")
    .option('--verify', 'report drift: physical tables whose columns differ from the rest')
    .option('--dry-run', 'print the statements and targets a run would apply, change nothing')
    .option('--concurrency <n>', 'connections per instance', '4')
    .option('--json', 'print the report (or the error) as JSON')
    .action((flags: MigrateFlags) =>
      runCommand(
        log,
        async () => {
          if (flags.verify && flags.dryRun) throw new UsageError('--verify and --dry-run exclude each other');
          const concurrency = intFlag('--concurrency', flags.concurrency, 1, 64);
          const { config, topology, bundled } = topologyFor(flags.config);
          // shards moved by `shardline reshard`: the published shard map says where their tables are
          await currentMap(config, topology);
          if (flags.verify) {
            const report = await verifySchema(config, topology, openDbConnection);
            if (flags.json) process.stdout.write(`${json(report)}\n`);
            else {
              for (const t of report.tables) {
                process.stdout.write(
                  `${t.table} (${t.kind}): ${t.found}/${t.expected} physical tables, ${t.missing.length} missing, ${t.differing.length} differing\n`,
                );
                for (const m of t.missing.slice(0, 10)) process.stdout.write(`  missing ${m}\n`);
                for (const d of t.differing.slice(0, 10))
                  process.stdout.write(`  differs ${d.instance}:${d.physical}: ${d.columns}\n    expected: ${t.reference}\n`);
              }
              process.stdout.write(report.drift ? 'DRIFT found\n' : 'no drift\n');
            }
            return report.drift ? EXIT_DRIFT : 0;
          }
          const dir = migrationsDir(flags.dir, bundled);
          process.stderr.write(`shardline: migrations ${dir}\n`);
          const migrations = loadMigrations(dir, topology);
          if (flags.dryRun) {
            const { status, statements } = await planMigrations(config, topology, migrations, openDbConnection);
            if (flags.json) process.stdout.write(`${json({ dryRun: true, ...status, statements })}\n`);
            else {
              for (const s of statements) {
                const text = s.example.length > 300 ? `${s.example.slice(0, 300)}…` : s.example;
                process.stdout.write(
                  `would apply ${s.migration} statement ${s.statement} (${s.table}, ${s.kind}) on ${s.targets} target(s), e.g.\n  ${text}\n`,
                );
              }
              process.stdout.write(`${statusLines(status).join('\n')}\n`);
            }
            return statusExit(status);
          }
          const report = await applyMigrations(config, topology, dir, concurrency, log);
          if (!flags.json && report.missing.length) {
            process.stderr.write(`warning: applied migration(s) ${report.missing.join(', ')} are no longer in ${dir}\n`);
          }
          process.stdout.write(
            flags.json
              ? `${json(report)}\n`
              : `migrations: ${report.migrations.join(', ') || 'none'}\napplied ${report.applied} statement(s) on physical targets (${report.alreadyApplied} already applied) in ${report.seconds.toFixed(1)} s\n`,
          );
          return report.missing.length ? EXIT_DRIFT : 0;
        },
        { json: flags.json },
      ),
    );

  migrate
    .command('status')
    .description(
      'per migration: applied, pending, partial or changed, and applied migrations whose file is gone (exit 0 up to date, 3 pending, 4 changed or missing)',
    )
    .option('--config <file>', 'cluster config')
    .option('--dir <folder>', "migrations folder (required outside shardline's checkout)")
    .option('--json', 'print the status (or the error) as JSON')
    .action((own: { config?: string; dir?: string; json?: boolean }, cmd: Command) => {
      const flags = { ...(cmd.optsWithGlobals() as { config?: string; dir?: string; json?: boolean }), ...own };
      return runCommand(
        log,
        async () => {
          const { config, topology, bundled } = topologyFor(flags.config);
          const dir = migrationsDir(flags.dir, bundled);
          process.stderr.write(`shardline: migrations ${dir}\n`);
          const status = await migrationStatus(config, topology, loadMigrations(dir, topology), openDbConnection);
          process.stdout.write(flags.json ? `${json(status)}\n` : `${statusLines(status).join('\n')}\n`);
          return statusExit(status);
        },
        { json: flags.json },
      );
    });
}
