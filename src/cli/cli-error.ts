import { isShardlineError, redactServerMessage, type ShardlineError } from '../errors/index.js';
import { serializeError, type LoggedError } from '../log/logger.js';

/** Exit status of a command that failed with a usage error (commander's own errors included). */
export const EXIT_USAGE = 2;
/** Exit status of any other ShardlineError. */
export const EXIT_ERROR = 1;
/** Exit status of an unexpected error (a bug): EX_SOFTWARE. */
export const EXIT_INTERNAL = 70;

/** What `--json` prints on stdout when a command fails. */
export interface JsonErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

/**
 * Library advice rephrased for the command line: the router's errors speak of its call
 * options (`{ scatter: true }`), the CLI has flags for them.
 */
const CLI_ADVICE: ReadonlyArray<[RegExp, string]> = [[/pass \{ scatter: true \}/g, 'pass --scatter']];

/** The message of a ShardlineError as the CLI shows it: advice for the CLI, quoted values redacted. */
export function cliMessage(err: ShardlineError): string {
  let message = err.message;
  for (const [from, to] of CLI_ADVICE) message = message.replace(from, to);
  return redactServerMessage(message);
}

/** Maps a failure to its exit status and the text or JSON to print. */
export function describeFailure(err: unknown): { exitCode: number; text: string; json: JsonErrorBody } {
  if (isShardlineError(err)) {
    const message = cliMessage(err);
    return {
      exitCode: err.code === 'USAGE' ? EXIT_USAGE : EXIT_ERROR,
      text: `error ${err.code}: ${message}`,
      json: { error: { code: err.code, message, details: { ...err.details } } },
    };
  }
  const shown = serializeError(err);
  const logged = typeof shown === 'object' && shown !== null ? (shown as LoggedError) : null;
  const message = logged ? logged.message : redactServerMessage(String(shown));
  return {
    exitCode: EXIT_INTERNAL,
    text: `unexpected error: ${logged ? (logged.stack ?? logged.message) : message}`,
    json: { error: { code: 'INTERNAL', message, details: logged ? { type: logged.type } : {} } },
  };
}

/** JSON with bigint as decimal text. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

/** Prints a failure (JSON on stdout with `json`, text on stderr otherwise) and returns its exit status. */
export function reportFailure(err: unknown, json: boolean): number {
  const failure = describeFailure(err);
  if (json) process.stdout.write(`${toJson(failure.json)}\n`);
  else process.stderr.write(`${failure.text}\n`);
  return failure.exitCode;
}
