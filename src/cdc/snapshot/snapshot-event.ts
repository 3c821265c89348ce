import type { CanonicalValue } from '../binlog/decoder/canonical-json.js';
import type { ChangeEvent, ChangeSource } from '../events/change-event.js';

const AFTER = '__shardline_snapshot_after__';
const ROW = '__shardline_snapshot_row__';

/**
 * The JSON of the `r` events of one chunk, `JSON.stringify(event)` byte for byte, made cheaply:
 * everything but `after` and `source.row` is the same for every row of a chunk, so it is encoded
 * once and each row only adds its values. Pure.
 */
export function snapshotEventEncoder(
  /** The chunk's source block; its `row` (any number) only fixes where the row index goes. */
  source: ChangeSource,
  tsMs: number,
): (after: Record<string, CanonicalValue>, row: number) => string {
  const event = (after: unknown, row: unknown): ChangeEvent =>
    ({ op: 'r', before: null, after, source: { ...source, row }, ts_ms: tsMs }) as ChangeEvent;
  const parts = JSON.stringify(event(AFTER, ROW)).split(/"__shardline_snapshot_(?:after|row)__"/);
  if (parts.length !== 3 || !parts[0]!.endsWith('"after":')) return (after, row) => JSON.stringify(event(after, row));
  const [head, middle, tail] = parts as [string, string, string];
  return (after, row) => head + JSON.stringify(after) + middle + row + tail;
}
