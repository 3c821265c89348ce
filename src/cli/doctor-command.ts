import type { Command } from 'commander';
import type { Logger } from '../log/logger.js';
import { loadSocketLayer } from '../net/index.js';
import { runCommand } from './run-command.js';

/** `shardline doctor [--json]`: which socket layer is active and why, and the fd limits. */
export function registerDoctorCommand(program: Command, log: Logger): void {
  program
    .command('doctor')
    .description('report the active socket layer (native or js) and why, RLIMIT_NOFILE and capabilities')
    .option('--json', 'print JSON')
    .action((flags: { json?: boolean }) =>
      runCommand(log, async () => {
        const layer = loadSocketLayer(() => undefined);
        const nofile = layer.raiseNoFileLimit();
        const report = {
          socketLayer: layer.kind,
          reason: layer.reason,
          nofile: { soft: nofile.soft, hard: nofile.hard },
          capabilities: layer.capabilities(),
          node: process.version,
          platform: `${process.platform}-${process.arch}`,
        };
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          [
            `socket layer: ${report.socketLayer} (${report.reason})`,
            `RLIMIT_NOFILE: soft ${report.nofile.soft}, hard ${report.nofile.hard}`,
            `capabilities: ${Object.entries(report.capabilities)
              .map(([k, v]) => `${k}=${v ? 'yes' : 'no'}`)
              .join(', ')}`,
            `node ${report.node} on ${report.platform}`,
            '',
          ].join('\n'),
        );
      }),
    );
}
