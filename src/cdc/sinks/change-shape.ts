/**
 * Whether a change topic's message value is a change event the sinks can apply. Anything may be
 * written to a topic (another producer, a tool, a bit flip in a broker without CRC checks on the
 * client), and a sink must not stop its consumer group on it: what fails here is dead-lettered as
 * it came. Checks what the sink runner and the sinks read without a type check of their own: the
 * images' values are the sinks' to judge (a value a sink cannot write is a dead letter there).
 */

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isImage = (v: unknown): boolean => v === null || isObject(v);
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const shown = (v: unknown): string => (JSON.stringify(v) ?? String(v)).slice(0, 40);

/** Why `value` (a parsed message value) is not a change event, or null when it is one. Pure. */
export function changeEventProblem(value: unknown): string | null {
  if (!isObject(value)) return 'the value is not a JSON object';
  const { op, before, after, source } = value;
  if (op !== 'c' && op !== 'u' && op !== 'd' && op !== 'r') return `op ${shown(op)} is not one of c, u, d, r`;
  if (!isImage(before)) return 'before is neither null nor an object';
  if (!isImage(after)) return 'after is neither null nor an object';
  if (!isObject(source)) return 'source is not an object';
  if (typeof source['table'] !== 'string' || source['table'] === '') return 'source.table is not a non-empty string';
  const logical = source['logical_table'];
  if (logical !== undefined && logical !== null && (typeof logical !== 'string' || logical === ''))
    return 'source.logical_table is neither null nor a non-empty string';
  if (typeof source['ts_us'] !== 'number' || !Number.isFinite(source['ts_us'])) return 'source.ts_us is not a finite number';
  const shard = source['shard'];
  if (shard !== undefined && shard !== null && !Number.isSafeInteger(shard)) return 'source.shard is neither null nor an integer';
  if (source['archival'] !== undefined && source['archival'] !== true) return 'source.archival is present but not true';
  if (source['version'] === undefined) {
    // events without a version: the sink derives it from the binlog coordinates
    if (typeof source['file'] !== 'string') return 'source has neither a version nor a binlog file';
    if (!isCount(source['pos']) || !isCount(source['row'])) return 'source has neither a version nor a binlog position and row';
  }
  return null;
}
