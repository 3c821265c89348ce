import type { Command } from 'commander';
import type { ClusterConfig } from '../config/index.js';
import { UsageError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { loadMigrations, runMigrations, type MigrateReport } from '../migrate/index.js';
import { openDbConnection } from '../net/index.js';
import { createRouter } from '../router/index.js';
import { Topology } from '../shard/index.js';
import type { SqlParam } from '../sql/index.js';
import { toJson as json } from './cli-error.js';
import { loadCommandConfig } from './config-choice.js';
import { createProgress } from './progress-bar.js';
import { runCommand } from './run-command.js';

/** The config of a command and its topology (naming templates checked). */
export function topologyFor(configPath: string | undefined): { config: ClusterConfig; topology: Topology; bundled: boolean } {
  const { config, choice } = loadCommandConfig(configPath);
  return {
    config,
    topology: new Topology(
      config.sharding,
      config.instances.map((i) => i.name),
    ),
    bundled: choice.source === 'bundled demo config',
  };
}

/** Runs pending migrations with a progress display. */
export async function applyMigrations(
  config: ClusterConfig,
  topology: Topology,
  dir: string,
  concurrency: number,
  log: Logger,
): Promise<MigrateReport> {
  const migrations = loadMigrations(dir, topology);
  const progress = createProgress('migrate', log);
  const report = await runMigrations(config, topology, migrations, openDbConnection, {
    concurrency,
    onProgress: (p) => progress.update(p.done, p.total, `${p.instance} ${p.instanceDone}/${p.instanceTotal}`),
  });
  progress.finish(`applied ${report.applied} statement(s), ${report.alreadyApplied} already applied`);
  return report;
}

/** `shard-of` and `explain`. */
export function registerRouterCommands(program: Command, log: Logger): void {
  program
    .command('shard-of')
    .description("print each UID's shard, instance and database (and physical table with --table)")
    .argument('<uid...>', 'UIDs (decimal)')
    .option('--config <file>', 'cluster config')
    .option('--table <table>', 'logical table to name the physical table of')
    .option('--json', 'one JSON array')
    .action((uids: string[], flags: { config?: string; table?: string; json?: boolean }) =>
      runCommand(
        log,
        async () => {
          const { config, topology } = topologyFor(flags.config);
          if (flags.table && topology.table(flags.table)?.kind !== 'sharded')
            throw new UsageError(`--table ${flags.table} is not a sharded table of the config`);
          const rows = uids.map((uid) => {
            const loc = topology.locate(uid);
            const inst = config.instances.find((i) => i.name === loc.instance)!;
            return {
              uid: loc.uid,
              shard: loc.shard,
              instance: loc.instance,
              host: inst.host,
              port: inst.port,
              database: loc.database,
              ...(flags.table ? { table: topology.names.table(flags.table.toLowerCase(), loc.shard) } : {}),
            };
          });
          if (flags.json) process.stdout.write(`${json(rows)}\n`);
          else
            for (const r of rows)
              process.stdout.write(
                `uid ${r.uid} → shard ${r.shard} on ${r.instance} (${r.host}:${r.port}) database ${r.database}${r.table ? ` table ${r.table}` : ''}\n`,
              );
        },
        { json: flags.json },
      ),
    );

  program
    .command('explain')
    .description('print the route of a statement: kind, shards and the physical SQL per instance')
    .argument('<sql>', 'the statement, with ? placeholders')
    .option('--config <file>', 'cluster config')
    .option('--params <json>', 'placeholder values as a JSON array', '[]')
    .option('--scatter', 'allow a statement without shard key to run on every shard')
    .option('--json', 'print the plan as JSON')
    .action((sql: string, flags: { config?: string; params: string; scatter?: boolean; json?: boolean }) =>
      runCommand(
        log,
        async () => {
          let params: SqlParam[];
          try {
            params = JSON.parse(flags.params) as SqlParam[];
          } catch {
            throw new UsageError('--params must be a JSON array (it does not parse as JSON)');
          }
          if (!Array.isArray(params)) throw new UsageError('--params must be a JSON array');
          const { config } = loadCommandConfig(flags.config);
          const router = await createRouter(config);
          try {
            const plan = router.explain(sql, params, { scatter: flags.scatter ?? false });
            if (flags.json) {
              process.stdout.write(`${json(plan)}\n`);
              return;
            }
            const shards = plan.shards.length > 12 ? `${plan.shards.length} shards` : plan.shards.join(', ') || '-';
            process.stdout.write(`route: ${plan.kind}\nstatement: ${plan.statement}\nshards: ${shards}\nmerge: ${plan.merge.kind}\n`);
            for (const t of plan.targets) {
              const text = t.sql.length > 400 ? `${t.sql.slice(0, 400)}… (${t.sql.length} chars)` : t.sql;
              process.stdout.write(
                `\n[${t.instance}] ${t.shards.length > 12 ? `${t.shards.length} shards` : t.shards.join(', ')}\n  ${text}\n`,
              );
            }
          } finally {
            await router.close();
          }
        },
        { json: flags.json },
      ),
    );
}
