import type { LogicalColumn, LogicalTableSchema } from '../../schema/logical-columns.js';
import { indexNamesFor, type IndexNames } from './index-names.js';

/** The object field that carries the sink's own data in every document (never a column name). */
export const META_FIELD = '_shardline';

/**
 * The alias filter that hides tombstone documents. Deletes are now real deletes plus a tombstone in
 * the separate tombstones index (see `tombstoneFor`), but earlier versions of the sink stored the
 * tombstone `{ _shardline: { deleted: true, version } }` in the table's index itself: the filter
 * keeps those out of every search until `purgeTombstones` removes them.
 */
export const TOMBSTONE_FILTER = { bool: { must_not: [{ term: { [`${META_FIELD}.deleted`]: true } }] } } as const;

/** One field of an Elasticsearch mapping. */
export interface FieldMapping {
  type: string;
  [parameter: string]: unknown;
}

/** A composable index template body (`PUT _index_template/<name>`). */
export interface IndexTemplateBody {
  index_patterns: string[];
  priority: number;
  template: {
    settings: Record<string, unknown>;
    mappings: { dynamic: 'false'; properties: Record<string, FieldMapping> };
    aliases: Record<string, { is_write_index: boolean; filter: typeof TOMBSTONE_FILTER }>;
  };
  _meta: { managed_by: 'shardline'; logical_table: string; primary_key: string[] };
}

/** How `indexTemplateFor` shapes the template; every option has a default. */
export interface IndexTemplateOptions {
  /** `'auto'` (default): `auto_expand_replicas: 0-1` (0 on a one-node cluster, 1 otherwise); or a fixed count. */
  replicas?: number | 'auto';
  /** Primary shards (default 1). */
  shards?: number;
  /** Default `1s`. */
  refreshInterval?: string;
  /**
   * Map BIGINT UNSIGNED and BIT(64) as `unsigned_long` (default true). Distributions without the
   * unsigned-long module (the integ-test zip of the dev cluster) need false: such columns become
   * `keyword` with a `num` double sub-field.
   */
  unsignedLong?: boolean;
  /** Template priority (default 500, above the built-in templates). */
  priority?: number;
  /** Extra index settings merged last (e.g. `{ 'index.gc_deletes': '0s' }` in a test). */
  settings?: Record<string, unknown>;
}

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer']);
const TEXT_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext']);
const BINARY_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'vector', 'inet4', 'inet6', 'uuid']);
const GEOMETRY_TYPES = new Set([
  'geometry',
  'point',
  'linestring',
  'polygon',
  'multipoint',
  'multilinestring',
  'multipolygon',
  'geometrycollection',
  'geomcollection',
]);

/** Exact decimal text kept as keyword (term queries, sorting is textual), `num` sub-field for ranges and aggregations. */
const exactNumber = (): FieldMapping => ({ type: 'keyword', fields: { num: { type: 'double' } } });

/** The ES date formats of a DATE/DATETIME/TIMESTAMP column: its own fraction width first. */
function dateFormats(column: LogicalColumn): string {
  if (column.dataType === 'date') return 'yyyy-MM-dd';
  // Fraction widths are fixed in ES patterns: the column's own first, then the usual ones for
  // query strings (milliseconds, microseconds, none).
  const fsp = Number(/\((\d)\)/.exec(column.columnType)?.[1] ?? 0);
  const widths = [...new Set([fsp, 6, 3, 0])];
  return [...widths.map((w) => (w === 0 ? 'yyyy-MM-dd HH:mm:ss' : `yyyy-MM-dd HH:mm:ss.${'S'.repeat(w)}`)), 'yyyy-MM-dd'].join('||');
}

/**
 * The mapping of one column, from its INFORMATION_SCHEMA type and the canonical value encoding
 * (schemas/canonical-values.md). Only field types of the default distribution's core are used
 * (no scaled_float, flattened or wildcard), so the dev cluster's integ-test zip takes them too.
 */
export function fieldMappingFor(column: LogicalColumn, options: Pick<IndexTemplateOptions, 'unsignedLong'> = {}): FieldMapping {
  const unsignedLong = options.unsignedLong ?? true;
  const unsigned = /\bunsigned\b/.test(column.columnType);
  const t = column.dataType;
  if (INTEGER_TYPES.has(t)) return { type: 'long' };
  if (t === 'bigint') return !unsigned ? { type: 'long' } : unsignedLong ? { type: 'unsigned_long' } : exactNumber();
  if (t === 'bit') {
    const bits = Number(/\((\d+)\)/.exec(column.columnType)?.[1] ?? 1);
    return bits < 64 ? { type: 'long' } : unsignedLong ? { type: 'unsigned_long' } : exactNumber();
  }
  if (t === 'year') return { type: 'short' };
  // DECIMAL: scaled_float and double both go through a double, which is not exact past 2^53
  // (DECIMAL(18,2) reaches 10^16); the canonical text is exact, so it is the field itself.
  if (t === 'decimal' || t === 'numeric') return exactNumber();
  if (t === 'float') return { type: 'float' };
  if (t === 'double' || t === 'real') return { type: 'double' };
  // Zero and partial-zero dates ('0000-00-00 00:00:00', '2024-00-00') are not dates: the document
  // is kept, the field is left out of the index (listed in `_ignored`), the text stays in _source.
  // `date` indexes milliseconds (date_nanos cannot hold years before 1970); _source keeps the µs.
  if (t === 'date' || t === 'datetime' || t === 'timestamp') return { type: 'date', format: dateFormats(column), ignore_malformed: true };
  if (t === 'time') return { type: 'keyword' };
  if (t === 'enum' || t === 'set') return { type: 'keyword' };
  if (t === 'json') return { type: 'text' };
  if (BINARY_TYPES.has(t) || (column.charset === 'binary' && TEXT_TYPES.has(t))) return { type: 'binary' };
  if (TEXT_TYPES.has(t)) return { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } };
  // GEOMETRY ({srid, wkb}) and anything unknown: kept in _source, not indexed.
  if (GEOMETRY_TYPES.has(t)) return { type: 'object', enabled: false };
  return { type: 'object', enabled: false };
}

/** The mapping of the sink's own field (`_shardline`). */
export const META_MAPPING: FieldMapping = {
  type: 'object',
  properties: {
    deleted: { type: 'boolean' },
    version: { type: 'long' },
    op: { type: 'keyword' },
    shard: { type: 'integer' },
    committed_at: { type: 'date', format: 'epoch_millis' },
  },
};

/** Elasticsearch's metadata fields (7.x and 8.x): a document cannot hold a field of these names. */
const METADATA_FIELDS = [
  '_id',
  '_index',
  '_source',
  '_routing',
  '_version',
  '_seq_no',
  '_primary_term',
  '_ignored',
  '_ignored_source',
  '_field_names',
  '_doc_count',
  '_data_stream_timestamp',
  '_tier',
  '_nested_path',
  '_feature',
  '_size',
  '_meta',
  '_type',
  '_uid',
  '_parent',
  '_all',
  '_timestamp',
  '_ttl',
];
const METADATA_FAMILY = new RegExp(`^(${METADATA_FIELDS.join('|')})_*$`);

/**
 * The document field of a column: its name, except for a name Elasticsearch keeps for its
 * metadata (a column `_id`, common in data that came from MongoDB): that one, and the names it
 * could then collide with (`_id_`, `_id__`, …), get one `_` appended — `_id` is searched as
 * `_id_`, `_id_` as `_id__`. One-to-one, so no two columns share a field.
 */
export function fieldNameOf(column: string): string {
  return column.charCodeAt(0) === 95 && METADATA_FAMILY.test(column) ? `${column}_` : column;
}

/** Whether some column's field is not named as the column (see {@link fieldNameOf}): the table's documents take the renaming path. */
export function hasRenamedFields(columns: readonly { name: string }[]): boolean {
  return columns.some((c) => fieldNameOf(c.name) !== c.name);
}

/** Elasticsearch's default `index.mapping.total_fields.limit`. */
export const DEFAULT_FIELD_LIMIT = 1000;

/** Fields Elasticsearch counts against `index.mapping.total_fields.limit`: each field, its multi-fields and an object's properties. */
export function mappedFieldCount(properties: Readonly<Record<string, FieldMapping>>): number {
  let n = 0;
  for (const m of Object.values(properties)) {
    n++;
    if (m['fields']) n += mappedFieldCount(m['fields'] as Record<string, FieldMapping>);
    if (m['properties']) n += mappedFieldCount(m['properties'] as Record<string, FieldMapping>);
  }
  return n;
}

/**
 * The field limit of a table's index: the default, or twice the mapping's fields for a wide
 * table (a VARCHAR column is two fields; InnoDB allows 1,017 columns). Twice, because a dropped
 * column stays in an index's mapping: a table that replaces columns keeps room. The limit guards
 * against mapping explosion by dynamic fields, which `dynamic: 'false'` already rules out.
 */
export function fieldLimitFor(properties: Readonly<Record<string, FieldMapping>>): number {
  return Math.max(DEFAULT_FIELD_LIMIT, 2 * mappedFieldCount(properties));
}

/**
 * The composable index template of a logical table: the concrete index `<prefix><table>.v1`
 * with a mapping derived from the column types, and the filtered alias `<prefix><table>`.
 *
 * `dynamic: 'false'`: a column added to the source after the template was made is kept in
 * `_source` but not indexed until the sink puts the new mapping (it re-reads the schema when a
 * document carries an unknown column). `strict` would turn every row after an `ADD COLUMN` into a
 * dead letter; `true` would let Elasticsearch guess a type from the first value (a DECIMAL string
 * becomes text, a DATETIME may become a date with the wrong format) and keep that guess forever.
 *
 * @example
 * const body = indexTemplateFor(await readLogicalTableSchema(query, 'users', 'db_0', 'users_0000'), 'shardline-');
 * await client.indices.putIndexTemplate({ name: 'shardline-users', ...body });
 */
export function indexTemplateFor(schema: LogicalTableSchema, indexPrefix: string, options: IndexTemplateOptions = {}): IndexTemplateBody {
  const names = indexNamesFor(indexPrefix, schema.table);
  const properties: Record<string, FieldMapping> = {};
  for (const column of schema.columns) {
    if (column.name === META_FIELD) throw new RangeError(`table ${schema.table}: column "${META_FIELD}" clashes with the sink's own field`);
    properties[fieldNameOf(column.name)] = fieldMappingFor(column, options);
  }
  properties[META_FIELD] = META_MAPPING;
  const fieldLimit = fieldLimitFor(properties);
  const replicas = options.replicas ?? 'auto';
  return {
    index_patterns: [names.index],
    priority: options.priority ?? 500,
    template: {
      settings: {
        'index.number_of_shards': options.shards ?? 1,
        ...(replicas === 'auto' ? { 'index.auto_expand_replicas': '0-1' } : { 'index.number_of_replicas': replicas }),
        'index.refresh_interval': options.refreshInterval ?? '300ms',
        ...(fieldLimit > DEFAULT_FIELD_LIMIT ? { 'index.mapping.total_fields.limit': fieldLimit } : {}),
        ...(options.settings ?? {}),
      },
      mappings: { dynamic: 'false', properties },
      aliases: { [names.alias]: { is_write_index: true, filter: TOMBSTONE_FILTER } },
    },
    _meta: { managed_by: 'shardline', logical_table: schema.table, primary_key: [...schema.primaryKey] },
  };
}

/**
 * The body of `PUT <tombstoneIndex>`: the tombstones of a table, keyed by the deleted id, with
 * only the sink's own field indexed, and its alias. Same shards and replicas as the table's index.
 */
export function tombstoneIndexBody(names: IndexNames, options: IndexTemplateOptions = {}): Record<string, unknown> {
  const replicas = options.replicas ?? 'auto';
  return {
    settings: {
      'index.number_of_shards': options.shards ?? 1,
      ...(replicas === 'auto' ? { 'index.auto_expand_replicas': '0-1' } : { 'index.number_of_replicas': replicas }),
      ...(options.settings ?? {}),
    },
    mappings: { dynamic: 'false', properties: { [META_FIELD]: META_MAPPING } },
    aliases: { [names.tombstones]: { is_write_index: true } },
  };
}
