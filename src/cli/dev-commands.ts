import type { Command } from 'commander';
import {
  devDown,
  devStatus,
  devUp,
  formatStatusTable,
  OPTIONAL_SERVICES,
  type DevMode,
  type OptionalService,
} from '../devcluster/index.js';
import { UsageError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { loadCommandConfig } from './config-choice.js';
import { runCommand } from './run-command.js';

interface ModeFlags {
  docker?: boolean;
  native?: boolean;
  config?: string;
  json?: boolean;
}

function modeOf(flags: ModeFlags): DevMode | undefined {
  if (flags.docker && flags.native) throw new UsageError('--docker and --native exclude each other');
  return flags.docker ? 'docker' : flags.native ? 'native' : undefined;
}

/** `shardline dev up | down | status`: the local cluster. */
export function registerDevCommands(program: Command, log: Logger): void {
  const dev = program.command('dev').description('run the local cluster (Docker Compose, or natively without Docker)');

  dev
    .command('up')
    .description('install (once), start and wait for every service; starts nothing that is already healthy')
    .option('--config <file>', 'cluster config (default: $SHARDLINE_CONFIG, else the bundled local cluster)')
    .option('--docker', 'use Docker Compose')
    .option('--native', 'run the services natively (no Docker)')
    .option('--timeout <seconds>', 'health wait per service', '180')
    .option('--allow-remote', 'let services with authentication listen on a non-loopback host from the config')
    .option('--json', 'print the outcome (or the error) as JSON')
    .option(
      '--with <service...>',
      `optional services to start too: ${OPTIONAL_SERVICES.join(', ')} (scrapes the CDC worker, loads dashboards/alerts.yaml)`,
    )
    .option(
      '--tls',
      "also serve TLS with a CA of the cluster's own in <state>/tls (MySQL/MariaDB; Kafka SSL on its port + 2, SASL_SSL on + 3)",
    )
    .action((flags: ModeFlags & { timeout: string; allowRemote?: boolean; tls?: boolean; with?: string[] }) =>
      runCommand(
        log,
        async () => {
          const timeout = Number(flags.timeout);
          if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout expects seconds > 0, got "${flags.timeout}"`);
          const extra = flags.with ?? [];
          for (const s of extra)
            if (!(OPTIONAL_SERVICES as readonly string[]).includes(s))
              throw new UsageError(`--with ${s}: expected one of ${OPTIONAL_SERVICES.join(', ')}`);
          const { config } = loadCommandConfig(flags.config, { localCluster: true });
          const t0 = Date.now();
          const mode = modeOf(flags);
          const { mode: used, outcomes } = await devUp(config, {
            ...(mode ? { mode } : {}),
            ...(flags.allowRemote ? { allowRemote: true } : {}),
            ...(flags.tls ? { tls: true } : {}),
            ...(extra.length ? { with: extra as OptionalService[] } : {}),
            timeoutMs: timeout * 1000,
            log,
          });
          const started = outcomes.filter((o) => o.action === 'started').map((o) => o.name);
          const seconds = ((Date.now() - t0) / 1000).toFixed(1);
          log.info(
            { mode: used, started, seconds: Number(seconds) },
            started.length ? 'cluster up' : 'cluster already up, nothing started',
          );
          if (flags.json) process.stdout.write(`${JSON.stringify({ mode: used, started, seconds: Number(seconds) }, null, 2)}\n`);
          else
            process.stdout.write(
              `${started.length ? `started ${started.join(', ')}` : 'all services already healthy; started nothing'} (${used}, ${seconds} s)\n`,
            );
        },
        { json: flags.json },
      ),
    );

  dev
    .command('down')
    .description('stop exactly the services `dev up` started')
    .option('--config <file>', 'cluster config')
    .option('--docker', 'stop the Docker Compose project')
    .option('--native', 'stop the native processes')
    .option('--json', 'print what was stopped (or the error) as JSON')
    .action((flags: ModeFlags) =>
      runCommand(
        log,
        async () => {
          const { config } = loadCommandConfig(flags.config, { localCluster: true });
          const mode = modeOf(flags);
          const stopped = (await devDown(config, mode ? { mode } : {})).filter((s) => s.stopped).map((s) => s.name);
          if (flags.json) process.stdout.write(`${JSON.stringify({ stopped }, null, 2)}\n`);
          else process.stdout.write(stopped.length ? `stopped ${stopped.join(', ')}\n` : 'nothing to stop\n');
        },
        { json: flags.json },
      ),
    );

  dev
    .command('status')
    .description('health, version, address and pid of every service')
    .option('--config <file>', 'cluster config')
    .option('--json', 'print a JSON array, one object per service')
    .action((flags: { config?: string; json?: boolean }) =>
      runCommand(
        log,
        async () => {
          const { config } = loadCommandConfig(flags.config, { localCluster: true });
          const rows = await devStatus(config);
          process.stdout.write(flags.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatStatusTable(rows)}\n`);
          return rows.every((r) => r.healthy) ? 0 : 3;
        },
        { json: flags.json },
      ),
    );
}
