import { isShardlineError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';

/**
 * Runs a command body and turns failures into an exit status: a ShardlineError prints
 * `error <CODE>: message` on stderr and exits 1 (2 for usage errors); anything else is a bug
 * and prints its stack.
 */
export async function runCommand(log: Logger, body: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await body()) ?? 0;
  } catch (err) {
    if (isShardlineError(err)) {
      process.stderr.write(`error ${err.code}: ${err.message}\n`);
      log.debug({ code: err.code, details: err.details }, 'command failed');
      process.exitCode = err.code === 'USAGE' ? 2 : 1;
    } else {
      process.stderr.write(`unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 70;
    }
  }
}
