import path from 'node:path';
import type { Command } from 'commander';
import { loadClusterConfig, packageRoot, resolveConfigPath, type ClusterConfig } from '../config/index.js';
import { UsageError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { loadMigrations, runMigrations, verifySchema, type MigrateReport } from '../migrate/index.js';
import { openDbConnection } from '../net/index.js';
import { createRouter } from '../router/index.js';
import { Topology } from '../shard/index.js';
import type { SqlParam } from '../sql/index.js';
import { createProgress } from './progress-bar.js';
import { runCommand } from './run-command.js';

const json = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);

function topologyFor(configPath: string | undefined) {
  const config = loadClusterConfig(resolveConfigPath(configPath));
  return { config, topology: new Topology(config.sharding, config.instances.map((i) => i.name)) };
}

/** Runs pending migrations with a progress display. */
export async function applyMigrations(config: ClusterConfig, topology: Topology, dir: string, concurrency: number, log: Logger): Promise<MigrateReport> {
  const migrations = loadMigrations(dir, topology);
  const progress = createProgress('migrate', log);
  const report = await runMigrations(config, topology, migrations, openDbConnection, {
    concurrency,
    onProgress: (p) => progress.update(p.done, p.total, `${p.instance} ${p.instanceDone}/${p.instanceTotal}`),
  });
  progress.finish(`applied ${report.applied} statement(s), ${report.alreadyApplied} already applied`);
  return report;
}

/** `shard-of`, `explain` and `migrate`. */
export function registerRouterCommands(program: Command, log: Logger): void {
  program
    .command('shard-of')
    .description("print each UID's shard, instance and database (and physical table with --table)")
    .argument('<uid...>', 'UIDs (decimal)')
    .option('--config <file>', 'cluster config')
    .option('--table <table>', 'logical table to name the physical table of')
    .option('--json', 'one JSON array')
    .action((uids: string[], flags: { config?: string; table?: string; json?: boolean }) =>
      runCommand(log, async () => {
        const { config, topology } = topologyFor(flags.config);
        if (flags.table && topology.table(flags.table)?.kind !== 'sharded') throw new UsageError(`--table ${flags.table} is not a sharded table of the config`);
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
        else for (const r of rows) process.stdout.write(`uid ${r.uid} → shard ${r.shard} on ${r.instance} (${r.host}:${r.port}) database ${r.database}${r.table ? ` table ${r.table}` : ''}\n`);
      }),
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
      runCommand(log, async () => {
        let params: SqlParam[];
        try {
          params = JSON.parse(flags.params) as SqlParam[];
        } catch {
          throw new UsageError(`--params must be a JSON array, got ${flags.params}`);
        }
        if (!Array.isArray(params)) throw new UsageError('--params must be a JSON array');
        const router = await createRouter(resolveConfigPath(flags.config));
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
            process.stdout.write(`\n[${t.instance}] ${t.shards.length > 12 ? `${t.shards.length} shards` : t.shards.join(', ')}\n  ${text}\n`);
          }
        } finally {
          await router.close();
        }
      }),
    );

  program
    .command('migrate')
    .description('apply pending migrations to every physical table, or --verify that all shards agree')
    .option('--config <file>', 'cluster config')
    .option('--dir <folder>', 'migrations folder', path.join(packageRoot, 'migrations'))
    .option('--verify', 'report drift: physical tables whose columns differ from the rest')
    .option('--concurrency <n>', 'connections per instance', '4')
    .option('--json', 'print the report as JSON')
    .action((flags: { config?: string; dir: string; verify?: boolean; concurrency: string; json?: boolean }) =>
      runCommand(log, async () => {
        const { config, topology } = topologyFor(flags.config);
        if (flags.verify) {
          const report = await verifySchema(config, topology, openDbConnection);
          if (flags.json) process.stdout.write(`${json(report)}\n`);
          else {
            for (const t of report.tables) {
              process.stdout.write(`${t.table} (${t.kind}): ${t.found}/${t.expected} physical tables, ${t.missing.length} missing, ${t.differing.length} differing\n`);
              for (const m of t.missing.slice(0, 10)) process.stdout.write(`  missing ${m}\n`);
              for (const d of t.differing.slice(0, 10)) process.stdout.write(`  differs ${d.instance}:${d.physical}: ${d.columns}\n    expected: ${t.reference}\n`);
            }
            process.stdout.write(report.drift ? 'DRIFT found\n' : 'no drift\n');
          }
          return report.drift ? 4 : 0;
        }
        const concurrency = Number(flags.concurrency);
        if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency expects a positive integer, got ${flags.concurrency}`);
        const report = await applyMigrations(config, topology, path.resolve(flags.dir), concurrency, log);
        process.stdout.write(
          flags.json
            ? `${json(report)}\n`
            : `migrations: ${report.migrations.join(', ') || 'none'}\napplied ${report.applied} statement(s) on physical targets (${report.alreadyApplied} already applied) in ${report.seconds.toFixed(1)} s\n`,
        );
      }),
    );
}
