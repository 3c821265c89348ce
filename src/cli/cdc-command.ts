import type { Command } from 'commander';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { loadClusterConfig, requireSections, type ClusterConfig } from '../config/index.js';
import { CdcWorker, type WorkerRole } from '../cdc/worker.js';
import { KafkajsEventLog } from '../cdc/kafka/kafkajs-event-log.js';
import { buildSinks } from '../cdc/sinks/build-sinks.js';
import { UsageError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { optionalIntFlag } from './cli-flags.js';
import { loadCommandConfig } from './config-choice.js';
import { runCommand } from './run-command.js';
import { registerCdcSnapshotCommand } from './cdc-snapshot-command.js';
import { registerCdcStatusCommand } from './cdc-status-command.js';

interface CdcFlags {
  config?: string;
  role?: string[];
  httpPort?: string;
  json?: boolean;
}

const ROLES: readonly WorkerRole[] = ['reader', 'elasticsearch', 'archive'];

/** `shardline cdc`: the CDC worker (binlog readers and the sinks). */
export function registerCdcCommand(program: Command, log: Logger): void {
  const cdc = program.command('cdc');
  registerCdcSnapshotCommand(cdc, log);
  registerCdcStatusCommand(cdc, log);
  cdc
    .description('run the CDC worker: binlog → Kafka (readers) and Kafka → Elasticsearch / archive (sinks)')
    .option('--config <file>', 'cluster config')
    .option('--role <role...>', `what this process does: ${ROLES.join(', ')} (default: all)`)
    .option('--http-port <port>', 'port of /metrics and /healthz (default: cdc.http.port, 9464)')
    .option('--json', 'a failure to start is printed as JSON on stdout')
    .action((flags: CdcFlags) =>
      runCommand(
        log,
        async () => {
          const roles = new Set((flags.role ?? ROLES) as WorkerRole[]);
          for (const r of roles) if (!ROLES.includes(r)) throw new UsageError(`--role ${r}: expected one of ${ROLES.join(', ')}`);
          const httpPort = optionalIntFlag('--http-port', flags.httpPort, 0, 65535);
          const { config: loaded, choice } = loadCommandConfig(flags.config);
          const config = requireSections(loaded, ['kafka'], 'shardline cdc');
          const configPath = choice.path;
          const registry = new Registry();
          // The event-loop delay sampled every 100 ms, not prom-client's 10: 100 wake-ups a second of an idle worker.
          collectDefaultMetrics({ register: registry, prefix: 'shardline_worker_', eventLoopMonitoringPrecision: 100 });
          const eventLog = new KafkajsEventLog({
            brokers: config.kafka.brokers,
            clientId: `${config.kafka.clientId}-cdc`,
            logger: log,
            security: config.kafka,
            compression: config.cdc.compression,
            maxEventBytes: config.cdc.maxEventBytes,
          });
          const sinks = buildSinks(config, { registry, logger: log });
          const worker = new CdcWorker({ config, log: eventLog, logger: log, registry, roles, sinks: sinks.factories, httpPort });
          let signalled: (() => void) | null = null;
          const stopSignal = new Promise<string>((resolve) => {
            const on = (sig: string) => () => resolve(sig);
            const term = on('SIGTERM');
            const int = on('SIGINT');
            process.once('SIGTERM', term);
            process.once('SIGINT', int);
            signalled = () => {
              process.off('SIGTERM', term);
              process.off('SIGINT', int);
            };
          });
          const hup = () => {
            try {
              const next: ClusterConfig = loadClusterConfig(configPath);
              worker.reload(next);
            } catch (err) {
              log.error({ err: (err as Error).message }, 'SIGHUP: configuration not reloaded');
            }
          };
          process.on('SIGHUP', hup);
          try {
            await worker.start();
            const sig = await stopSignal;
            log.info({ signal: sig }, 'stopping: finishing the current transactions');
            const inTime = await worker.stop();
            if (!inTime) log.warn('shutdown timeout: uncommitted transactions are read again on the next start');
            return 0;
          } finally {
            process.off('SIGHUP', hup);
            (signalled as (() => void) | null)?.();
            await eventLog.close();
            await sinks.close();
          }
        },
        { json: flags.json },
      ),
    );
}
