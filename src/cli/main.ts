#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { packageRoot } from '../config/index.js';
import { createLogger } from '../log/logger.js';
import { registerDemoCommand } from './demo-command.js';
import { registerBinlogCommands } from './binlog-command.js';
import { registerCdcCommand } from './cdc-command.js';
import { registerDevCommands } from './dev-commands.js';
import { registerDoctorCommand } from './doctor-command.js';
import { registerRouterCommands } from './router-commands.js';

const { version } = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
const log = createLogger();

const program = new Command('shardline')
  .description('sharded MySQL access (1024 logical shards) and change data capture')
  .version(version)
  .showHelpAfterError()
  .exitOverride();

registerDevCommands(program, log);
registerRouterCommands(program, log);
registerBinlogCommands(program, log);
registerCdcCommand(program, log);
registerDoctorCommand(program, log);
registerDemoCommand(program, log);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    throw err;
  }
}
