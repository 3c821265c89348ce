#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { packageRoot } from '../config/index.js';
import { UsageError } from '../errors/index.js';
import { createLogger } from '../log/logger.js';
import { registerDemoCommand } from './demo-command.js';
import { registerBinlogCommands } from './binlog-command.js';
import { registerCdcCommand } from './cdc-command.js';
import { registerDevCommands } from './dev-commands.js';
import { registerDoctorCommand } from './doctor-command.js';
import { registerMigrateCommand } from './migrate-command.js';
import { EXIT_USAGE, reportFailure } from './cli-error.js';
import { registerRouterCommands } from './router-commands.js';
import { registerXaCommands } from './xa-command.js';
import { registerFailoverCommand } from './failover-command.js';
import { registerReshardCommands } from './reshard-command.js';
import { registerArchivalCommands } from './archival-command.js';

const { version } = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
const log = createLogger();

/** `--json` anywhere on the line: errors (commander's too) are JSON on stdout. */
const jsonErrors = process.argv.slice(2).includes('--json');

const program = new Command('shardline')
  .description('sharded MySQL access (1024 logical shards) and change data capture')
  .version(version)
  .exitOverride();
if (jsonErrors) program.configureOutput({ outputError: () => undefined });
else program.showHelpAfterError();

registerDevCommands(program, log);
registerRouterCommands(program, log);
registerMigrateCommand(program, log);
registerBinlogCommands(program, log);
registerCdcCommand(program, log);
registerDoctorCommand(program, log);
registerDemoCommand(program, log);
registerXaCommands(program, log);
registerFailoverCommand(program, log);
registerReshardCommands(program, log);
registerArchivalCommands(program, log);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) process.exitCode = 0;
    else if (jsonErrors)
      process.exitCode = reportFailure(new UsageError(err.message.replace(/^error: /, ''), { details: { commander: err.code } }), true);
    else process.exitCode = EXIT_USAGE;
  } else {
    process.exitCode = reportFailure(err, jsonErrors);
  }
}
