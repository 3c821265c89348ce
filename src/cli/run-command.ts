import { isShardlineError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { reportFailure } from './cli-error.js';

/**
 * Runs a command body and turns failures into an exit status: a ShardlineError prints
 * `error <CODE>: message` on stderr and exits 1 (2 for usage errors); anything else is a bug
 * and prints its stack (exit 70). With `json`, the failure is `{ "error": { code, message,
 * details } }` on stdout instead. Quoted values and URL passwords in messages are redacted.
 */
export async function runCommand(
  log: Logger,
  body: () => Promise<number | void>,
  options: { json?: boolean | undefined } = {},
): Promise<void> {
  try {
    process.exitCode = (await body()) ?? 0;
  } catch (err) {
    if (isShardlineError(err)) log.debug({ code: err.code, details: err.details }, 'command failed');
    process.exitCode = reportFailure(err, options.json === true);
  }
}
