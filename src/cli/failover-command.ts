import type { Command } from 'commander';
import type { Logger } from '../log/logger.js';
import { loadCommandConfig } from './config-choice.js';
import { failover } from './failover.js';
import { runCommand } from './run-command.js';

/** `shardline failover --instance NAME [--to REPLICA] [--planned] [--json]`. */
export function registerFailoverCommand(program: Command, log: Logger): void {
  program
    .command('failover')
    .description(
      "move an instance's writes to one of its replicas: fence the primary (super_read_only / read_only), wait until the replica has applied everything, promote it, point the old primary and the other replicas at it; routers follow on their next probe",
    )
    .requiredOption('--instance <name>', 'the shard instance')
    .option('--to <replica>', 'the replica to promote (default: the first other node)')
    .option('--planned', 'the primary is reachable: fence it first (the only kind built so far)')
    .option('--timeout <seconds>', 'how long the replica may take to catch up before the failover is called off', '30')
    .option('--config <file>', 'cluster config')
    .option('--json', 'print the report as one JSON object')
    .action(
      (opts: { instance: string; to?: string; planned?: boolean; timeout: string; config?: string; json?: boolean }, command: Command) => {
        const flags = command.optsWithGlobals<{ config?: string; json?: boolean }>();
        const json = flags.json ?? opts.json;
        return runCommand(
          log,
          async () => {
            const { config } = loadCommandConfig(flags.config ?? opts.config);
            const timeout = Number(opts.timeout);
            const report = await failover(config, {
              instance: opts.instance,
              ...(opts.to ? { to: opts.to } : {}),
              planned: opts.planned === true,
              timeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout * 1000 : 30_000,
              onStep: (step) => {
                if (!json) process.stderr.write(`${step}\n`);
              },
            });
            if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
            else
              process.stdout.write(
                `${report.instance}: writes moved from ${report.from} to ${report.to} (write pause ${report.write_pause_ms} ms, ${report.seconds} s in all); replicating from ${report.to}: ${report.repointed.join(', ')}\n`,
              );
            return 0;
          },
          { json },
        );
      },
    );
}
