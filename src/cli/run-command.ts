import { isShardlineError, redactServerMessage } from '../errors/index.js';
import { serializeError, type Logger, type LoggedError } from '../log/logger.js';

/**
 * Runs a command body and turns failures into an exit status: a ShardlineError prints
 * `error <CODE>: message` on stderr and exits 1 (2 for usage errors); anything else is a bug
 * and prints its stack. Quoted values and URL passwords in messages are redacted.
 */
export async function runCommand(log: Logger, body: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await body()) ?? 0;
  } catch (err) {
    if (isShardlineError(err)) {
      process.stderr.write(`error ${err.code}: ${redactServerMessage(err.message)}\n`);
      log.debug({ code: err.code, details: err.details }, 'command failed');
      process.exitCode = err.code === 'USAGE' ? 2 : 1;
    } else {
      const shown = serializeError(err);
      process.stderr.write(`unexpected error: ${typeof shown === 'object' && shown !== null ? ((shown as LoggedError).stack ?? (shown as LoggedError).message) : redactServerMessage(String(shown))}\n`);
      process.exitCode = 70;
    }
  }
}
