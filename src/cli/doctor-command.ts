import type { Command } from 'commander';
import { loadClusterConfig } from '../config/index.js';
import { ConfigError, isShardlineError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { loadMigrations, migrationStatus } from '../migrate/index.js';
import { loadSocketLayer, openDbConnection } from '../net/index.js';
import { Topology } from '../shard/index.js';
import { toJson } from './cli-error.js';
import { announceConfig, chooseConfig, type ConfigChoice } from './config-choice.js';
import { checkFds, checkInstance, formatChecks, type DoctorCheck } from './doctor-checks.js';
import { migrationsDir } from './migrate-command.js';
import { runCommand } from './run-command.js';

/** Exit status of `doctor` when a check failed. */
export const EXIT_DOCTOR_FAILED = 3;

function configChoice(explicit: string | undefined): ConfigChoice | null {
  try {
    return chooseConfig(explicit);
  } catch (err) {
    if (err instanceof ConfigError && err.code === 'CONFIG_NOT_FOUND') return null;
    throw err;
  }
}

/**
 * `shardline doctor [--config FILE] [--dir D] [--json]`: the socket layer and fd limits, and with
 * a config every instance (reachable, version, binlog settings for the CDC, GTIDs, TLS, the
 * replication account's grants), the file-descriptor budget and, with migrations, applied
 * migrations whose file is gone. Exit 3 when a check fails.
 */
export function registerDoctorCommand(program: Command, log: Logger): void {
  program
    .command('doctor')
    .description(
      'check the socket layer, RLIMIT_NOFILE and, with a config, every instance (reachable, version, binlog settings, GTIDs, TLS, replication grants) and the fd budget; exit 3 when a check fails',
    )
    .option('--config <file>', 'cluster config whose instances to check')
    .option('--dir <folder>', 'migrations folder: also report applied migrations whose file is gone')
    .option('--json', 'print JSON')
    .action((flags: { config?: string; dir?: string; json?: boolean }) =>
      runCommand(
        log,
        async () => {
          const layer = loadSocketLayer(() => undefined);
          const nofile = layer.raiseNoFileLimit();
          const choice = configChoice(flags.config);
          const checks: DoctorCheck[] = [];
          if (choice) {
            const config = loadClusterConfig(choice.path);
            const topology = new Topology(
              config.sharding,
              config.instances.map((i) => i.name),
            );
            announceConfig(choice);
            checks.push(checkFds(config, nofile));
            for (const list of await Promise.all(config.instances.map((inst) => checkInstance(inst, openDbConnection))))
              checks.push(...list);
            let dir: string | null;
            try {
              dir = migrationsDir(flags.dir, choice.source === 'bundled demo config');
            } catch {
              dir = null;
            }
            if (dir) {
              try {
                const status = await migrationStatus(config, topology, loadMigrations(dir, topology), openDbConnection);
                for (const m of status.missing)
                  checks.push({
                    instance: m.instances.join(','),
                    check: 'migrations',
                    status: 'fail',
                    detail: `${m.id} was applied but its file is gone from ${dir}`,
                  });
                for (const m of status.migrations.filter((s) => s.state === 'changed'))
                  checks.push({ instance: '-', check: 'migrations', status: 'fail', detail: `${m.id} was edited after it was applied` });
                if (!status.missing.length && !status.migrations.some((s) => s.state === 'changed')) {
                  checks.push({
                    instance: '-',
                    check: 'migrations',
                    status: status.upToDate ? 'ok' : 'warn',
                    detail: status.upToDate
                      ? `${status.migrations.length} applied (${dir})`
                      : `${status.pending} statement target(s) pending (${dir})`,
                  });
                }
              } catch (err) {
                checks.push({
                  instance: '-',
                  check: 'migrations',
                  status: 'fail',
                  detail: isShardlineError(err) ? `${err.code}: ${err.message}` : String(err),
                });
              }
            } else {
              checks.push({
                instance: '-',
                check: 'migrations',
                status: 'skip',
                detail: 'pass --dir FOLDER to compare the ledger with the migration files',
              });
            }
          }
          const ok = checks.every((c) => c.status !== 'fail');
          const report = {
            socketLayer: layer.kind,
            reason: layer.reason,
            nofile: { soft: nofile.soft, hard: nofile.hard },
            capabilities: layer.capabilities(),
            node: process.version,
            platform: `${process.platform}-${process.arch}`,
            config: choice?.path ?? null,
            checks,
            ok,
          };
          if (flags.json) {
            process.stdout.write(`${toJson(report)}\n`);
          } else {
            process.stdout.write(
              [
                `socket layer: ${report.socketLayer} (${report.reason})`,
                `RLIMIT_NOFILE: soft ${report.nofile.soft}, hard ${report.nofile.hard}`,
                `capabilities: ${Object.entries(report.capabilities)
                  .map(([k, v]) => `${k}=${v ? 'yes' : 'no'}`)
                  .join(', ')}`,
                `node ${report.node} on ${report.platform}`,
                choice
                  ? `\n${formatChecks(checks)}\n${ok ? 'all checks passed' : `${checks.filter((c) => c.status === 'fail').length} check(s) failed`}`
                  : 'no cluster config: pass --config FILE to check the instances',
                '',
              ].join('\n'),
            );
          }
          return ok ? 0 : EXIT_DOCTOR_FAILED;
        },
        { json: flags.json },
      ),
    );
}
