import type { CanonicalValue } from '../../binlog/decoder/canonical-json.js';
import type { SinkRecord } from '../sink-record.js';
import { fieldNameOf, META_FIELD } from './index-template.js';

/**
 * `external_gte`: an operation applies when its version is greater than or equal to the stored
 * one, and is refused with 409 when it is lower.
 *
 * - Equal versions only come from the same change (the version is binlog file, position and row),
 *   so a replay or a retry of a request ES had already applied rewrites identical content: no
 *   error, nothing to count. With `external` it would be a 409 that has to be told apart from a
 *   stale write.
 * - The one case of equal versions with different content is `sourceVersion`'s cap: rows past
 *   index 2047 of one rows event share a version, and their order is the stream's order. With
 *   `external_gte` the later record wins; `external` would keep the first and drop the rest.
 * - Lower versions (an old batch replayed after newer ones, records overtaking each other across
 *   partitions after a primary key change) are refused: the 409 is success in effect, counted.
 */
export const VERSION_TYPE = 'external_gte';

/** The largest version Elasticsearch accepts (a signed 64-bit long). */
const MAX_VERSION = (1n << 63n) - 1n;

/**
 * One bulk operation: `index` of a row image into the table's alias, `delete` of an id there, or
 * `tombstone`: the index of a tombstone document into the table's tombstones alias.
 */
export interface BulkAction {
  /** Position of the record in the `write()` batch that produced it. */
  record: number;
  kind: 'index' | 'delete' | 'tombstone';
  /** Document id. */
  id: string;
  /** The external version it carries. */
  version: bigint;
  /** The action and source lines, newline-terminated. */
  ndjson: string;
}

/** The actions of one record, or why it cannot become any. */
export type RecordActions = { ok: true; actions: BulkAction[] } | { ok: false; reason: string };

/** The sink's own data stored with every document. */
function meta(record: SinkRecord, deleted: boolean): Record<string, unknown> {
  const source = record.event.source;
  return {
    deleted,
    // A string: versions reach 2^63 and JSON numbers in JS stop being exact at 2^53.
    version: record.version.toString(),
    op: record.event.op,
    shard: source.shard,
    committed_at: Math.floor(source.ts_us / 1000),
  };
}

/** The document of a row image: the canonical column values plus `_shardline`. */
export function documentFor(record: SinkRecord, after: Record<string, CanonicalValue>): Record<string, unknown> {
  return { ...after, [META_FIELD]: meta(record, false) };
}

/**
 * `JSON.stringify(documentFor(record, after))`, without copying the image into a new object: the
 * image's JSON with `_shardline` appended. An image that carries a `_shardline` column itself (which
 * the document's own field replaces) takes the copy.
 */
export function documentJson(record: SinkRecord, after: Record<string, CanonicalValue>, renamed = false): string {
  if (renamed) after = withFieldNames(after);
  if (Object.prototype.hasOwnProperty.call(after, META_FIELD)) return JSON.stringify(documentFor(record, after));
  const image = JSON.stringify(after);
  const tail = `"${META_FIELD}":${JSON.stringify(meta(record, false))}}`;
  return image === '{}' ? `{${tail}` : `${image.slice(0, -1)},${tail}`;
}

/** A copy of an image with each column under its document field name ({@link fieldNameOf}). */
function withFieldNames(image: Record<string, CanonicalValue>): Record<string, CanonicalValue> {
  const out: Record<string, CanonicalValue> = {};
  for (const [k, v] of Object.entries(image))
    Object.defineProperty(out, fieldNameOf(k), { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

/**
 * The tombstone of a deleted row (or of the old key of a row whose primary key changed): only the
 * key columns (from the before image) and `_shardline.deleted: true`, indexed with the change's
 * version into the table's tombstones index (`IndexNames.tombstones`), while the row itself is
 * deleted from the table's index.
 *
 * Why a tombstone at all: Elasticsearch remembers a deleted document's version only for
 * `index.gc_deletes` (60 s by default, in heap, not across every recovery); after that an insert
 * replayed with an older version would create the document again. The tombstone is an ordinary
 * document, so its version guards the id for as long as it exists: the sink reads the tombstones
 * of a batch's ids (one `_mget`) and drops every index older than or as old as the delete, and ES's
 * own delete version covers the moment between that read and the write. Why a separate index:
 * a tombstone in the table's index is hidden from searches by the alias filter, but GET and
 * `_mget` ignore alias filters and answered `found: true` for deleted rows.
 */
export function tombstoneFor(record: SinkRecord, primaryKey: readonly string[]): Record<string, unknown> {
  const before = record.event.before;
  const key = before
    ? primaryKey.filter((k) => Object.prototype.hasOwnProperty.call(before, k)).map((k) => [fieldNameOf(k), before[k]])
    : [];
  return Object.fromEntries([...key, [META_FIELD, meta(record, true)]]);
}

/** The action line of an external-versioned index or delete; the version is written as an exact integer. */
function actionLine(op: 'index' | 'delete', index: string, id: string, version: bigint): string {
  return `{"${op}":{"_index":${JSON.stringify(index)},"_id":${JSON.stringify(id)},"version":${version.toString()},"version_type":"${VERSION_TYPE}"}}`;
}

/** One action; `source` is the document's JSON for an index, null for a delete. */
function action(
  recordIndex: number,
  kind: BulkAction['kind'],
  index: string,
  id: string,
  version: bigint,
  source: string | null,
): BulkAction {
  const line = actionLine(source !== null ? 'index' : 'delete', index, id, version);
  return { record: recordIndex, kind, id, version, ndjson: source !== null ? `${line}\n${source}\n` : `${line}\n` };
}

/**
 * The bulk actions of one record, written to `index` (the table's alias) and `tombstones` (the
 * alias of its tombstones; default `<index>.tombstones`, as `indexNamesFor` names it):
 * - c / u / r: index the after image as `id`; when the primary key changed (`previousId`), first
 *   the tombstone of `previousId` and its delete, with the same version.
 * - d: the tombstone of `id`, then the delete of `id`.
 * The tombstone goes first: once the delete is applied, its tombstone is already stored.
 */
export function actionsFor(
  record: SinkRecord,
  recordIndex: number,
  index: string,
  primaryKey: readonly string[],
  tombstones = `${index}.tombstones`,
  renamed = false,
): RecordActions {
  if (record.version < 0n || record.version > MAX_VERSION) return { ok: false, reason: `version ${record.version} is outside 0 … 2^63-1` };
  if (record.id === '') return { ok: false, reason: 'empty document id' };
  const { op, after } = record.event;
  const remove = (id: string): BulkAction[] => [
    action(recordIndex, 'tombstone', tombstones, id, record.version, JSON.stringify(tombstoneFor(record, primaryKey))),
    action(recordIndex, 'delete', index, id, record.version, null),
  ];
  if (op === 'd') return { ok: true, actions: remove(record.id) };
  if (!after) return { ok: false, reason: `op ${op} without an after image` };
  const actions: BulkAction[] = [];
  if (record.previousId !== null && record.previousId !== record.id) actions.push(...remove(record.previousId));
  actions.push(action(recordIndex, 'index', index, record.id, record.version, documentJson(record, after, renamed)));
  return { ok: true, actions };
}

/**
 * Splits actions into waves whose bulk requests can all be in flight at once: the n-th record to
 * touch a document (its table and id) goes in wave n, with every action it has for that document.
 * One document's changes thus reach Elasticsearch in their order (an older insert never lands
 * after a newer delete that `index.gc_deletes` may already have forgotten); a write whose records
 * each touch a different document is one wave.
 */
export function documentWaves(actions: readonly BulkAction[], tableOf: (a: BulkAction) => string): BulkAction[][] {
  const last = new Map<string, { record: number; wave: number }>();
  const waves: BulkAction[][] = [];
  for (const a of actions) {
    const key = `${tableOf(a)}\0${a.id}`;
    const seen = last.get(key);
    const wave = seen === undefined ? 0 : seen.record === a.record ? seen.wave : seen.wave + 1;
    if (seen?.record !== a.record) last.set(key, { record: a.record, wave });
    (waves[wave] ??= []).push(a);
  }
  return waves;
}

/**
 * Splits actions into bulk requests of at most `maxDocs` actions and (unless a single action is
 * larger) `maxBytes` bytes, keeping their order.
 */
export function bulkChunks(actions: readonly BulkAction[], maxDocs: number, maxBytes: number): BulkAction[][] {
  const chunks: BulkAction[][] = [];
  let chunk: BulkAction[] = [];
  let bytes = 0;
  for (const a of actions) {
    const size = Buffer.byteLength(a.ndjson);
    if (chunk.length > 0 && (chunk.length >= maxDocs || bytes + size > maxBytes)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(a);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/**
 * The NDJSON body of a bulk request, UTF-8 encoded once into one buffer of its exact size (a joined
 * string would be copied by the join and encoded again by the HTTP client).
 */
export function bulkBody(actions: readonly BulkAction[]): Buffer {
  let size = 0;
  for (const a of actions) size += Buffer.byteLength(a.ndjson);
  const body = Buffer.allocUnsafe(size);
  let at = 0;
  for (const a of actions) at += body.write(a.ndjson, at);
  return body;
}
