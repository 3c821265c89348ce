import type { CanonicalValue } from '../binlog/decoder/canonical-json.js';
import type { ChangeEvent, ChangeSource } from '../events/change-event.js';

const AFTER = '__shardline_snapshot_after__';
const ROW = '__shardline_snapshot_row__';
const VERSION = '__shardline_snapshot_version__';

/**
 * The JSON of the `r` events of one chunk, `JSON.stringify(event)` byte for byte, made cheaply:
 * everything but `after`, `source.row` and `source.version` is the same for every row of a chunk,
 * so it is encoded once and each row only adds its values. Pure.
 */
export function snapshotEventEncoder(
  /** The chunk's source block; its `row` and `version` only fix where the row index and version go. */
  source: ChangeSource,
  tsMs: number,
): (after: Record<string, CanonicalValue>, row: number, version: string) => string {
  const event = (after: unknown, row: unknown, version: unknown): ChangeEvent =>
    ({ op: 'r', before: null, after, source: { ...source, row, version }, ts_ms: tsMs }) as ChangeEvent;
  const parts = JSON.stringify(event(AFTER, ROW, VERSION)).split(/"__shardline_snapshot_(?:after|row|version)__"/);
  if (parts.length !== 4 || !parts[0]!.endsWith('"after":') || !parts[2]!.endsWith('"version":'))
    return (after, row, version) => JSON.stringify(event(after, row, version));
  const [head, middle, beforeVersion, tail] = parts as [string, string, string, string];
  return (after, row, version) => head + JSON.stringify(after) + middle + row + beforeVersion + JSON.stringify(version) + tail;
}
