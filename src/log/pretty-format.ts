/** pino's numeric levels and the names a person reads. */
const LEVELS: Record<number, { name: string; color: string }> = {
  10: { name: 'TRACE', color: '\x1b[90m' },
  20: { name: 'DEBUG', color: '\x1b[36m' },
  30: { name: 'INFO', color: '\x1b[32m' },
  40: { name: 'WARN', color: '\x1b[33m' },
  50: { name: 'ERROR', color: '\x1b[31m' },
  60: { name: 'FATAL', color: '\x1b[35m' },
};
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';

/** Fields every pino line carries that a person at a terminal does not need. */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);

/** Options of {@link formatLogLine}. */
export interface PrettyOptions {
  /** ANSI colours (default false). */
  color?: boolean;
  /** Print error stacks (default false: type, code and message only). */
  stacks?: boolean;
}

function clock(time: unknown): string {
  const d = new Date(typeof time === 'number' ? time : Date.now());
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** A value as `key=value` shows it: bare when it is a word, JSON otherwise. */
function scalar(value: unknown): string {
  if (typeof value === 'string') return /^[\w.:/@+-]+$/.test(value) ? value : JSON.stringify(value);
  if (value === undefined) return 'undefined';
  return JSON.stringify(value);
}

/** `Type [CODE]: message`, then `caused by …` for each cause; the stack only when asked. */
function errorText(value: unknown, stacks: boolean): string {
  if (!value || typeof value !== 'object') return scalar(value);
  const e = value as { type?: unknown; message?: unknown; code?: unknown; stack?: unknown; cause?: unknown };
  let text = `${typeof e.type === 'string' ? e.type : 'Error'}${typeof e.code === 'string' ? ` [${e.code}]` : ''}: ${String(e.message ?? '')}`;
  if (stacks && typeof e.stack === 'string') text += `\n${e.stack.split('\n').slice(1).join('\n')}`;
  if (e.cause !== undefined) text += `\n    caused by ${errorText(e.cause, stacks)}`;
  return text;
}

/**
 * One pino record (the parsed JSON line) as one human-readable line for a terminal:
 * `12:04:05.123 WARN  message key=value …`, an error as `Type [CODE]: message`. The record is
 * what pino wrote, so redaction has already happened.
 *
 * @example
 * formatLogLine({ level: 40, time: 0, msg: 'retrying', attempt: 2 }); // '00:00:00.000 WARN  retrying attempt=2\n' (local time)
 */
export function formatLogLine(record: Record<string, unknown>, options: PrettyOptions = {}): string {
  const level = LEVELS[typeof record['level'] === 'number' ? record['level'] : 30] ?? { name: String(record['level']), color: '' };
  const color = options.color === true;
  const name = level.name.padEnd(5);
  const parts = [color ? `${DIM}${clock(record['time'])}${RESET}` : clock(record['time']), color ? `${level.color}${name}${RESET}` : name];
  if (typeof record['msg'] === 'string' && record['msg'] !== '') parts.push(record['msg']);
  const errors: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (HIDDEN.has(key)) continue;
    if ((key === 'err' || key === 'error') && value && typeof value === 'object') errors.push(errorText(value, options.stacks === true));
    else parts.push(color ? `${DIM}${key}=${RESET}${scalar(value)}` : `${key}=${scalar(value)}`);
  }
  return `${[parts.join(' '), ...errors.map((e) => `    ${e}`)].join('\n')}\n`;
}

/**
 * A pino destination that writes each JSON line through {@link formatLogLine} to `write`
 * (a line that is not JSON passes unchanged).
 */
export function prettyDestination(write: (text: string) => void, options: PrettyOptions = {}): { write(line: string): void } {
  return {
    write(line: string) {
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        write(line);
        return;
      }
      write(record && typeof record === 'object' ? formatLogLine(record as Record<string, unknown>, options) : line);
    },
  };
}
