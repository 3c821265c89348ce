import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../src/config/index.js';
import type { LogicalColumn, LogicalTableSchema } from '../../src/cdc/schema/logical-columns.js';
import { fieldMappingFor, indexNamesFor, indexTemplateFor, TOMBSTONE_FILTER } from '../../src/cdc/sinks/elasticsearch/index.js';
import { fieldNameOf, hasRenamedFields } from '../../src/cdc/sinks/elasticsearch/index-template.js';

const col = (name: string, dataType: string, columnType: string, nullable = false, charset: string | null = null): LogicalColumn => ({
  name,
  dataType,
  columnType,
  nullable,
  charset,
});

/** The tables of migrations/0001_initial.sql as INFORMATION_SCHEMA describes them. */
const DEMO: LogicalTableSchema[] = [
  {
    table: 'users',
    columns: [
      col('uid', 'bigint', 'bigint unsigned'),
      col('name', 'varchar', 'varchar(100)', false, 'utf8mb4'),
      col('email', 'varchar', 'varchar(255)', true, 'utf8mb4'),
      col('balance', 'decimal', 'decimal(18,2)'),
      col('created_at', 'datetime', 'datetime(6)'),
      col('updated_at', 'datetime', 'datetime(6)', true),
    ],
    primaryKey: ['uid'],
  },
  {
    table: 'orders',
    columns: [
      col('uid', 'bigint', 'bigint unsigned'),
      col('order_id', 'bigint', 'bigint unsigned'),
      col('amount', 'decimal', 'decimal(18,2)', true),
      col('status', 'enum', "enum('new','paid','shipped','cancelled')", true, 'utf8mb4'),
      col('created_at', 'datetime', 'datetime(6)', true),
    ],
    primaryKey: ['uid', 'order_id'],
  },
];

// Regenerate the committed files with SHARDLINE_WRITE_ES_TEMPLATES=1.
describe('Elasticsearch index template', () => {
  it.each(DEMO.map((s) => [s.table, s] as const))(
    'schemas/elasticsearch/%s.template.json is indexTemplateFor(the migration schema)',
    (table, schema) => {
      const file = path.join(packageRoot, 'schemas', 'elasticsearch', `${table}.template.json`);
      const expected = indexTemplateFor(schema, 'shardline-');
      if (process.env['SHARDLINE_WRITE_ES_TEMPLATES'] === '1') writeFileSync(file, `${JSON.stringify(expected, null, 2)}\n`);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(expected);
    },
  );

  it('names: filtered alias <prefix><table> over the concrete index <prefix><table>.v1', () => {
    const body = indexTemplateFor(DEMO[0]!, 'shardline-');
    expect(body.index_patterns).toEqual(['shardline-users.v1']);
    expect(body.template.aliases).toEqual({ 'shardline-users': { is_write_index: true, filter: TOMBSTONE_FILTER } });
    expect(body.template.mappings.dynamic).toBe('false');
    expect(body._meta).toEqual({ managed_by: 'shardline', logical_table: 'users', primary_key: ['uid'] });
    expect(indexNamesFor('it-', 'Users')).toEqual({
      alias: 'it-users',
      index: 'it-users.v1',
      template: 'it-users',
      tombstones: 'it-users.tombstones',
      tombstoneIndex: 'it-users.tombstones.v1',
    });
    expect(() => indexNamesFor('', '_x')).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', details: expect.objectContaining({ field: 'cdc.elasticsearch.indexPrefix' }) }),
    );
    expect(() => indexNamesFor('p-', 'a b')).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', details: expect.objectContaining({ field: 'cdc.elasticsearch.indexPrefix' }) }),
    );
    expect(() => indexNamesFor('p-', '')).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', details: expect.objectContaining({ field: 'cdc.elasticsearch.indexPrefix' }) }),
    );
  });

  it('settings: auto-expanding replicas by default, fixed replicas, refresh interval and extra settings on request', () => {
    expect(indexTemplateFor(DEMO[0]!, 'p-').template.settings).toEqual({
      'index.number_of_shards': 1,
      'index.auto_expand_replicas': '0-1',
      'index.refresh_interval': '300ms',
    });
    expect(
      indexTemplateFor(DEMO[0]!, 'p-', { replicas: 0, shards: 3, refreshInterval: '5s', settings: { 'index.gc_deletes': '0s' } }).template
        .settings,
    ).toEqual({
      'index.number_of_shards': 3,
      'index.number_of_replicas': 0,
      'index.refresh_interval': '5s',
      'index.gc_deletes': '0s',
    });
  });

  it('maps every column type by its canonical encoding', () => {
    const m = (dataType: string, columnType = dataType, charset: string | null = null) =>
      fieldMappingFor(col('c', dataType, columnType, true, charset));
    for (const t of ['tinyint', 'smallint', 'mediumint', 'int']) {
      expect(m(t)).toEqual({ type: 'long' });
      expect(m(t, `${t} unsigned`)).toEqual({ type: 'long' });
    }
    expect(m('bigint')).toEqual({ type: 'long' });
    expect(m('bigint', 'bigint unsigned')).toEqual({ type: 'unsigned_long' });
    expect(fieldMappingFor(col('c', 'bigint', 'bigint unsigned', false, null), { unsignedLong: false })).toEqual({
      type: 'keyword',
      fields: { num: { type: 'double' } },
    });
    expect(m('bit', 'bit(1)')).toEqual({ type: 'long' });
    expect(m('bit', 'bit(64)')).toEqual({ type: 'unsigned_long' });
    expect(m('year')).toEqual({ type: 'short' });
    expect(m('decimal', 'decimal(65,30)')).toEqual({ type: 'keyword', fields: { num: { type: 'double' } } });
    expect(m('float')).toEqual({ type: 'float' });
    expect(m('double')).toEqual({ type: 'double' });
    expect(m('date')).toEqual({ type: 'date', format: 'yyyy-MM-dd', ignore_malformed: true });
    expect(m('datetime', 'datetime')).toEqual({
      type: 'date',
      format: 'yyyy-MM-dd HH:mm:ss||yyyy-MM-dd HH:mm:ss.SSSSSS||yyyy-MM-dd HH:mm:ss.SSS||yyyy-MM-dd',
      ignore_malformed: true,
    });
    expect(m('datetime', 'datetime(6)')).toEqual({
      type: 'date',
      format: 'yyyy-MM-dd HH:mm:ss.SSSSSS||yyyy-MM-dd HH:mm:ss.SSS||yyyy-MM-dd HH:mm:ss||yyyy-MM-dd',
      ignore_malformed: true,
    });
    expect(m('timestamp', 'timestamp(2)')).toEqual({
      type: 'date',
      format: 'yyyy-MM-dd HH:mm:ss.SS||yyyy-MM-dd HH:mm:ss.SSSSSS||yyyy-MM-dd HH:mm:ss.SSS||yyyy-MM-dd HH:mm:ss||yyyy-MM-dd',
      ignore_malformed: true,
    });
    expect(m('time', 'time(6)')).toEqual({ type: 'keyword' });
    expect(m('enum', "enum('a','b')", 'utf8mb4')).toEqual({ type: 'keyword' });
    expect(m('set', "set('a','b')", 'utf8mb4')).toEqual({ type: 'keyword' });
    expect(m('json')).toEqual({ type: 'text' });
    for (const t of ['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext']) {
      expect(m(t, t, 'utf8mb4')).toEqual({ type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } });
      expect(m(t, t, 'binary')).toEqual({ type: 'binary' });
    }
    for (const t of ['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'vector'])
      expect(m(t, t, 'binary')).toEqual({ type: 'binary' });
    for (const t of ['geometry', 'point', 'polygon', 'geomcollection']) expect(m(t)).toEqual({ type: 'object', enabled: false });
    expect(m('something_new')).toEqual({ type: 'object', enabled: false });
  });

  it('refuses a column named like the sink field', () => {
    expect(() => indexTemplateFor({ table: 't', columns: [col('_shardline', 'int', 'int')], primaryKey: [] }, 'p-')).toThrow(/clashes/);
  });
});

describe('the field limit of wide tables', () => {
  const wide = (varchars: number): LogicalTableSchema => ({
    table: 'wide',
    columns: [
      col('id', 'int', 'int'),
      ...Array.from({ length: varchars }, (_, i) => col(`c${i}`, 'varchar', 'varchar(9)', true, 'utf8mb4')),
    ],
    primaryKey: ['id'],
  });
  const limitOf = (s: LogicalTableSchema) => indexTemplateFor(s, 'p-').template.settings['index.mapping.total_fields.limit'];

  it('leaves the default while it holds twice the fields', () => {
    // id, 246 × (text + keyword) and _shardline with its 5 fields: 1 + 492 + 6 = 499
    expect(limitOf(wide(246))).toBeUndefined();
    expect(limitOf(DEMO[0]!)).toBeUndefined();
  });

  it('sets twice the fields Elasticsearch counts past that (room for columns replaced: dropped ones stay mapped)', () => {
    expect(limitOf(wide(247))).toBe(2 * 501);
    expect(limitOf(wide(493))).toBe(2 * 993);
    // 1 + 2 × 1,016 + 6 = 2,039 fields (InnoDB's 1,017 columns)
    expect(limitOf(wide(1016))).toBe(2 * 2039);
  });
});

describe('columns named like Elasticsearch metadata fields', () => {
  it('get one `_` appended, with the names they could collide with; other names stay', () => {
    const cases = Object.entries({
      _id: '_id_',
      _id_: '_id__',
      _id__: '_id___',
      _source: '_source_',
      _routing: '_routing_',
      _index_: '_index__',
      _ID: '_ID',
      _idx: '_idx',
      id: 'id',
      _private: '_private',
      __id: '__id',
      _shardline_x: '_shardline_x',
      'a.b': 'a.b',
    });
    for (const [column, field] of cases) expect({ column, field: fieldNameOf(column) }).toEqual({ column, field });
    expect(new Set(cases.map(([c]) => fieldNameOf(c))).size).toBe(cases.length);
  });

  it('maps and writes such a column under its field name, and leaves other tables on the fast path', () => {
    const schema: LogicalTableSchema = {
      table: 'm',
      columns: [col('_id', 'varchar', 'varchar(24)', false, 'utf8mb4'), col('_id_', 'int', 'int')],
      primaryKey: ['_id'],
    };
    expect(Object.keys(indexTemplateFor(schema, 'p-').template.mappings.properties)).toEqual(['_id_', '_id__', '_shardline']);
    expect(hasRenamedFields(schema.columns)).toBe(true);
    expect(hasRenamedFields(DEMO[0]!.columns)).toBe(false);
  });
});
