import type { Command } from 'commander';
import type { Logger } from '../log/logger.js';
import { loadCommandConfig } from './config-choice.js';
import { failover, type FailoverReport } from './failover.js';
import { parseTimeoutSeconds } from './failover-plan.js';
import { runCommand } from './run-command.js';

/** The line a person reads (without --json). */
export function failoverLine(r: FailoverReport): string {
  const following = `replicating from ${r.to}: ${r.repointed.join(', ') || 'none'}`;
  if (r.planned)
    return `${r.instance}: writes moved from ${r.from} to ${r.to} (write pause ${r.write_pause_ms} ms, ${r.seconds} s in all); ${following}`;
  const ids = r.id_sequences_moved
    ? `; ${r.id_sequences_moved} global ID sequences moved forward by 2^40 past leases that may be lost`
    : '';
  return `${r.instance}: ${r.from} is down, ${r.to} takes the writes (it applied ${r.caught_up_to || 'nothing'}; ${r.seconds} s in all); ${following}; not repointed: ${r.not_repointed.join(', ')}${ids}`;
}

/** `shardline failover --instance NAME [--to REPLICA] [--planned] [--timeout S] [--json]`. */
export function registerFailoverCommand(program: Command, log: Logger): void {
  program
    .command('failover')
    .description(
      "move an instance's writes to one of its replicas. --planned (the primary answers): fence it (super_read_only / read_only), wait until the replica has applied everything, promote it, point the old primary and the other replicas at it. Without --planned (the primary is dead; refused while it answers): promote the replica that received the most, once it applied it, and point the other replicas at it. Routers follow on their next probe",
    )
    .requiredOption('--instance <name>', 'the shard instance')
    .option('--to <replica>', 'the replica to promote (default: planned, the first other node; unplanned, the one that received the most)')
    .option('--planned', 'the primary is reachable: fence it first (without it: the primary is dead)')
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
            const timeout = parseTimeoutSeconds(opts.timeout);
            const { config } = loadCommandConfig(flags.config ?? opts.config);
            const report = await failover(config, {
              instance: opts.instance,
              ...(opts.to ? { to: opts.to } : {}),
              planned: opts.planned === true,
              timeoutMs: timeout * 1000,
              onStep: (step) => {
                if (!json) process.stderr.write(`${step}\n`);
              },
            });
            if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
            else process.stdout.write(`${failoverLine(report)}\n`);
            return 0;
          },
          { json },
        );
      },
    );
}
