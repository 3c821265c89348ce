import type { CanonicalValue } from '../../binlog/decoder/canonical-json.js';
import type { LogicalTableSchema } from '../../schema/logical-columns.js';
import type { SinkRecord } from '../sink-record.js';
import { archiveParam, ArchiveValueError, paramBytes, type ArchiveParam } from './archive-values.js';

/** One row write into an archive table: the source columns present in the image, and the bookkeeping. */
export interface ArchiveRow {
  table: string;
  /** Source column names in schema order (the columns the image carries). */
  columns: string[];
  /** Bound values, aligned with `columns`. */
  values: ArchiveParam[];
  shard: number | null;
  version: bigint;
  deleted: boolean;
  /** Moved out of the shards by the archival job (kept, not deleted). */
  archived: boolean;
  /** Approximate bytes the row adds to a transaction. */
  bytes: number;
}

/** A record's image names a column the logical schema does not know (the schema may be stale). */
export class UnknownColumnError extends Error {
  constructor(
    readonly table: string,
    readonly column: string,
  ) {
    super(`column ${column} is not in the logical schema of ${table}`);
    this.name = 'UnknownColumnError';
  }
}

const ROW_OVERHEAD_BYTES = 64;
const MAX_VERSION = (1n << 64n) - 1n;

/** The primary-key values a document id encodes (see `documentId`): the text for one column, a JSON array for several. */
export function keyFromId(id: string, primaryKey: readonly string[]): Record<string, CanonicalValue> {
  if (primaryKey.length === 1) return { [primaryKey[0]!]: id };
  let parsed: unknown;
  try {
    parsed = JSON.parse(id);
  } catch {
    throw new ArchiveValueError(primaryKey.join(','), `document id is not a JSON array of ${primaryKey.length} key values`);
  }
  if (!Array.isArray(parsed) || parsed.length !== primaryKey.length) {
    throw new ArchiveValueError(primaryKey.join(','), `document id is not a JSON array of ${primaryKey.length} key values`);
  }
  return Object.fromEntries(primaryKey.map((k, i) => [k, parsed[i] as CanonicalValue]));
}

/** A schema's column names as written, and by their lower-cased form (MySQL's column names ignore case). */
interface ColumnNames {
  exact: ReadonlySet<string>;
  folded: ReadonlyMap<string, string>;
}

/** Built once per schema object (not per row). */
const columnNamesOf = new WeakMap<LogicalTableSchema, ColumnNames>();

function columnNames(schema: LogicalTableSchema): ColumnNames {
  let names = columnNamesOf.get(schema);
  if (names === undefined) {
    names = {
      exact: new Set(schema.columns.map((c) => c.name)),
      folded: new Map(schema.columns.map((c) => [c.name.toLowerCase(), c.name])),
    };
    columnNamesOf.set(schema, names);
  }
  return names;
}

/**
 * The image with its column names as the schema writes them. A name that differs only in case
 * (e.g. the binlog's schema history and INFORMATION_SCHEMA around a rename that changed the case)
 * is the same MySQL column, and its value must not be dropped by a case-sensitive lookup.
 * Throws {@link UnknownColumnError} for a name the schema does not have in any case.
 */
function schemaImage(schema: LogicalTableSchema, image: Record<string, CanonicalValue>): Record<string, CanonicalValue> {
  const names = columnNames(schema);
  let renamed = false;
  for (const name of Object.keys(image)) {
    if (names.exact.has(name)) continue;
    if (!names.folded.has(name.toLowerCase())) throw new UnknownColumnError(schema.table, name);
    renamed = true;
  }
  if (!renamed) return image;
  const out: Record<string, CanonicalValue> = {};
  for (const [name, value] of Object.entries(image)) {
    const column = names.exact.has(name) ? name : names.folded.get(name.toLowerCase())!;
    if (Object.prototype.hasOwnProperty.call(out, column)) throw new ArchiveValueError(column, 'the image holds two values for one column');
    // defined, not assigned: a column named `__proto__` stays a column
    Object.defineProperty(out, column, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function archiveRow(
  record: SinkRecord,
  schema: LogicalTableSchema,
  rawImage: Record<string, CanonicalValue>,
  id: string,
  deleted: boolean,
  archived = false,
): ArchiveRow {
  const image = schemaImage(schema, rawImage);
  // Key columns missing from the image (a minimal before image) come from the document id.
  const keyMissing = schema.primaryKey.some((k) => image[k] === undefined || image[k] === null);
  let merged = image;
  if (keyMissing) {
    const key = keyFromId(id, schema.primaryKey);
    merged = { ...key, ...image };
    for (const k of schema.primaryKey) {
      if (merged[k] === undefined || merged[k] === null) merged[k] = key[k] ?? null;
      if (merged[k] === null) throw new ArchiveValueError(k, 'primary-key column without a value');
    }
  }
  const columns: string[] = [];
  const values: ArchiveParam[] = [];
  let bytes = ROW_OVERHEAD_BYTES;
  for (const c of schema.columns) {
    const v = merged[c.name];
    if (v === undefined) continue;
    const p = archiveParam(c, v);
    columns.push(c.name);
    values.push(p);
    bytes += paramBytes(p) + 8;
  }
  return { table: schema.table, columns, values, shard: record.event.source.shard, version: record.version, deleted, archived, bytes };
}

/**
 * The archive rows of one change record:
 * - c / u / r: the after image, `_deleted = 0` (a re-insert revives a deleted key);
 * - d: the before image (the last known values) with `_deleted = 1`; an archival delete
 *   (`source.archival`) keeps the row with `_archived = 1` and `_deleted = 0` instead;
 * - u with `previousId` (the key changed): the old key marked deleted with the before image,
 *   then the new key upserted — both at the record's version.
 * Throws {@link ArchiveValueError} for a value that cannot be written and
 * {@link UnknownColumnError} for a column the schema does not know.
 */
export function recordRows(record: SinkRecord, schema: LogicalTableSchema): ArchiveRow[] {
  if (record.version < 0n || record.version > MAX_VERSION)
    throw new ArchiveValueError('_version', `version ${record.version} is outside BIGINT UNSIGNED`);
  const { event } = record;
  if (event.op === 'd') {
    const archival = event.source.archival === true;
    return [archiveRow(record, schema, event.before ?? {}, record.id, !archival, archival)];
  }
  if (event.after === null) throw new ArchiveValueError('*', `a "${event.op}" event without an after image`);
  const rows: ArchiveRow[] = [];
  if (record.previousId !== null && record.previousId !== record.id) {
    rows.push(archiveRow(record, schema, event.before ?? {}, record.previousId, true));
  }
  rows.push(archiveRow(record, schema, event.after, record.id, false));
  return rows;
}
