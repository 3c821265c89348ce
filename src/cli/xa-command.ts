import type { Command } from 'commander';
import { UsageError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { loadCommandConfig } from './config-choice.js';
import { runCommand } from './run-command.js';
import { recoverXa } from './xa-recover.js';

/** `shardline xa recover`: finish the XA branches of atomic writes whose process died between prepare and commit. */
export function registerXaCommands(program: Command, log: Logger): void {
  const xa = program.command('xa').description('XA transactions of atomic multi-shard writes (router option atomic: true)');
  xa.command('recover')
    .description(
      "list the prepared XA branches on every instance and finish shardline's: XA COMMIT where the coordinator recorded a commit decision, XA ROLLBACK otherwise (presumed abort); exit 3 when a branch could not be finished",
    )
    .option('--config <file>', 'cluster config')
    .option('--json', 'print { branches: [...] } as JSON')
    .option('--older-than <seconds>', 'leave branches begun less than this long ago alone (their process may still be running)', '60')
    .option('--dry-run', 'list and plan only')
    .action((opts: { config?: string; json?: boolean; olderThan: string; dryRun?: boolean }, command: Command) => {
      const flags = command.optsWithGlobals<{ config?: string; json?: boolean }>();
      return runCommand(
        log,
        async () => {
          const seconds = Number(opts.olderThan);
          if (!Number.isFinite(seconds) || seconds < 0)
            throw new UsageError(`--older-than takes seconds (a number ≥ 0), got ${opts.olderThan}`);
          const { config } = loadCommandConfig(flags.config ?? opts.config);
          const branches = await recoverXa(config, { olderThanMs: seconds * 1000, dryRun: opts.dryRun === true });
          if (flags.json) process.stdout.write(`${JSON.stringify({ branches })}\n`);
          else if (branches.length === 0) process.stdout.write('no prepared XA branches\n');
          else
            for (const b of branches)
              process.stdout.write(
                `${b.instance}: ${b.gtrid} (${b.bqual}) decision ${b.decision ?? 'none'} → ${b.action} ${b.result}${b.error ? `: ${b.error}` : ''}\n`,
              );
          return branches.some((b) => b.result === 'failed') ? 3 : 0;
        },
        { json: flags.json ?? opts.json },
      );
    });
}
