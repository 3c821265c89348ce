import type { Command } from 'commander';
import { loadClusterConfig, resolveConfigPath } from '../config/index.js';
import { devStatus, devUp, formatStatusTable } from '../devcluster/index.js';
import { DevClusterError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { runCommand } from './run-command.js';

/** `shardline demo`: the README's quick start. */
export function registerDemoCommand(program: Command, log: Logger): void {
  program
    .command('demo')
    .description('bring the local cluster up and show every service')
    .option('--config <file>', 'cluster config')
    .action((flags: { config?: string }) =>
      runCommand(log, async () => {
        const config = loadClusterConfig(resolveConfigPath(flags.config));
        process.stdout.write('shardline demo: bringing the local cluster up (the first run downloads about 500 MB once)\n');
        await devUp(config, { log });
        const rows = await devStatus(config);
        process.stdout.write(`\n${formatStatusTable(rows)}\n`);
        const sick = rows.filter((r) => !r.healthy).map((r) => r.name);
        if (sick.length) throw new DevClusterError('DEV_UNHEALTHY', `not healthy: ${sick.join(', ')}`);
        process.stdout.write(`\nall ${rows.length} services healthy. Stop them with: npm run dev:down\n`);
      }),
    );
}
