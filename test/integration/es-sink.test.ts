import { Client } from '@elastic/elasticsearch';
import { Registry } from 'prom-client';
import type { CanonicalValue } from '../../src/cdc/binlog/decoder/canonical-json.js';
import type { ChangeEvent } from '../../src/cdc/events/change-event.js';
import type { LogicalColumn, LogicalTableSchema } from '../../src/cdc/schema/logical-columns.js';
import type { SinkRecord } from '../../src/cdc/sinks/sink-record.js';
import { EsSink, type EsSinkOptions } from '../../src/cdc/sinks/elasticsearch/index.js';
import { testConfig } from '../support/cluster.js';

const PREFIX = 'it-es-sink-';
const node = testConfig().elasticsearch.node;
const es = new Client({ node });

type Row = Record<string, CanonicalValue>;
const col = (name: string, dataType: string, columnType = dataType, charset: string | null = null): LogicalColumn => ({
  name,
  dataType,
  columnType,
  nullable: true,
  charset,
});

const SCHEMAS: Record<string, LogicalTableSchema> = {
  users: {
    table: 'users',
    columns: [
      col('uid', 'bigint', 'bigint unsigned'),
      col('name', 'varchar', 'varchar(100)', 'utf8mb4'),
      col('age', 'int'),
      col('balance', 'decimal', 'decimal(18,2)'),
      col('created_at', 'datetime', 'datetime(6)'),
    ],
    primaryKey: ['uid'],
  },
  orders: {
    table: 'orders',
    columns: [
      col('uid', 'bigint', 'bigint unsigned'),
      col('order_id', 'bigint', 'bigint unsigned'),
      col('amount', 'decimal', 'decimal(18,2)'),
      col('status', 'enum', "enum('new','paid')", 'utf8mb4'),
    ],
    primaryKey: ['uid', 'order_id'],
  },
  types: {
    table: 'types',
    columns: [
      col('id', 'int'),
      col('u64', 'bigint', 'bigint unsigned'),
      col('i64', 'bigint'),
      col('bits', 'bit', 'bit(64)'),
      col('dec', 'decimal', 'decimal(65,30)'),
      col('f', 'float'),
      col('d', 'double'),
      col('dt', 'datetime', 'datetime(6)'),
      col('dt3', 'datetime', 'datetime(3)'),
      col('ts', 'timestamp', 'timestamp'),
      col('day', 'date'),
      col('t', 'time', 'time(6)'),
      col('y', 'year'),
      col('txt', 'text', 'text', 'utf8mb4'),
      col('bin', 'varbinary', 'varbinary(16)', 'binary'),
      col('e', 'enum', "enum('a','b')", 'utf8mb4'),
      col('s', 'set', "set('a','b','c')", 'utf8mb4'),
      col('j', 'json'),
      col('g', 'geometry'),
    ],
    primaryKey: ['id'],
  },
};

let offset = 0;
/** A change record; the images default to an insert/update of `after` or a delete of `before`. */
function rec(
  table: string,
  op: ChangeEvent['op'],
  id: string,
  version: bigint,
  image: Row,
  opts: { previousId?: string; before?: Row; tsUs?: number } = {},
): SinkRecord {
  return {
    table,
    id,
    previousId: opts.previousId ?? null,
    version,
    event: {
      op,
      before: op === 'd' ? image : (opts.before ?? null),
      after: op === 'd' ? null : image,
      source: {
        instance: 'shard-0',
        flavour: 'mysql',
        server_uuid: null,
        server_id: 1,
        db: 'shardline_0',
        table: `${table}_0001`,
        logical_table: table,
        shard: 1,
        gtid: null,
        file: 'binlog.000001',
        pos: 4,
        row: 0,
        ts_us: opts.tsUs ?? Date.now() * 1000,
        snapshot: 'false',
      },
      ts_ms: Date.now(),
    },
    origin: { topic: `shardline.${table}`, partition: 0, offset: String(offset++) },
  };
}
const user = (uid: string, name: string, extra: Row = {}): Row => ({
  uid,
  name,
  age: 30,
  balance: '10.50',
  created_at: '2024-02-29 23:59:59.000500',
  ...extra,
});

const sinks: EsSink[] = [];
function open(registry?: Registry, extra: Partial<EsSinkOptions> = {}): EsSink {
  const sink = new EsSink({
    node,
    indexPrefix: PREFIX,
    bulkMaxDocs: 3,
    schemaOf: async (t) => {
      const s = SCHEMAS[t];
      if (!s) throw new Error(`no schema for ${t}`);
      return s;
    },
    registry,
    retry: { initialMs: 20, maxMs: 200 },
    ...extra,
  });
  sinks.push(sink);
  return sink;
}

async function cleanup(prefix = PREFIX): Promise<void> {
  await es.indices.delete({ index: `${prefix}*`, expand_wildcards: 'all', ignore_unavailable: true, allow_no_indices: true });
  const templates = await es.indices.getIndexTemplate({ name: `${prefix}*` }, { ignore: [404] });
  for (const t of templates.index_templates ?? []) await es.indices.deleteIndexTemplate({ name: t.name });
}

/** What a user sees: the documents found by searching the alias, by _id. */
async function visible(table: string): Promise<Record<string, Record<string, unknown>>> {
  await es.indices.refresh({ index: `${PREFIX}${table}` });
  const res = await es.search<Record<string, unknown>>({ index: `${PREFIX}${table}`, size: 1000, query: { match_all: {} } });
  return Object.fromEntries(res.hits.hits.map((h) => [h._id!, h._source!]));
}

/** Everything stored in the table's index (or its tombstones index) with versions, for before/after comparisons. */
async function stored(
  table: string,
  which: 'v1' | 'tombstones.v1' = 'v1',
): Promise<Record<string, { version: number | undefined; source: unknown }>> {
  const index = `${PREFIX}${table}.${which}`;
  await es.indices.refresh({ index });
  const res = await es.search({ index, size: 1000, version: true, query: { match_all: {} } });
  return Object.fromEntries(res.hits.hits.map((h) => [h._id!, { version: h._version, source: h._source }]));
}

/** What a by-id reader sees through the alias: GET and _mget (both real-time, both ignore alias filters). */
async function byId(table: string, id: string): Promise<{ get: boolean; mget: boolean }> {
  const get = await es.get({ index: `${PREFIX}${table}`, id }, { ignore: [404] });
  const mget = await es.mget({ index: `${PREFIX}${table}`, ids: [id] });
  return { get: get.found, mget: mget.docs.some((d) => 'found' in d && d.found) };
}

async function metric(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values as { value: number; labels: Record<string, string | number> }[] | undefined)?.find((x) =>
    Object.entries(labels).every(([k, l]) => x.labels[k] === l),
  );
  return v?.value ?? 0;
}

describe('EsSink on the local Elasticsearch', () => {
  beforeAll(async () => {
    await cleanup();
  });
  afterEach(async () => {
    for (const s of sinks.splice(0)) await s.close();
    await cleanup();
  });
  afterAll(async () => {
    await es.close();
  });

  it('indexes, updates and deletes; a deleted row is absent from searches, GET and _mget, its tombstone kept apart', async () => {
    const registry = new Registry();
    const sink = open(registry);
    expect(await sink.write([rec('users', 'c', '1', 1n, user('1', 'Ann')), rec('users', 'c', '2', 2n, user('2', 'Bob'))])).toEqual([]);
    expect(await sink.write([rec('users', 'u', '1', 3n, user('1', 'Anne', { balance: '99999999999999.99' }))])).toEqual([]);
    expect(Object.keys(await visible('users')).sort()).toEqual(['1', '2']);
    expect((await visible('users'))['1']).toMatchObject({
      uid: '1',
      name: 'Anne',
      balance: '99999999999999.99',
      _shardline: { deleted: false, version: '3', op: 'u', shard: 1 },
    });
    expect(await sink.write([rec('users', 'd', '2', 4n, user('2', 'Bob'))])).toEqual([]);
    expect(Object.keys(await visible('users'))).toEqual(['1']);
    const count = await es.count({ index: `${PREFIX}users`, query: { term: { name: 'bob' } } });
    expect(count.count).toBe(0);
    // By id, through the alias: the deleted row is not found (it was found before, as a tombstone document).
    expect(await byId('users', '2')).toEqual({ get: false, mget: false });
    expect(await byId('users', '1')).toEqual({ get: true, mget: true });
    expect(Object.keys(await stored('users'))).toEqual(['1']);
    // The tombstone, in its own index, holds the key and the delete's version, nothing else of the row.
    const tomb = await es.get<Record<string, unknown>>({ index: `${PREFIX}users.tombstones`, id: '2' });
    expect(tomb._version).toBe(4);
    expect(tomb._source).toEqual({ uid: '2', _shardline: expect.objectContaining({ deleted: true, version: '4', op: 'd' }) });
    // Searches by column values work through the mapping (range on the decimal sub-field, date range).
    const rich = await es.count({
      index: `${PREFIX}users`,
      query: { bool: { filter: [{ range: { 'balance.num': { gt: 1e13 } } }, { range: { created_at: { gte: '2024-02-29 00:00:00' } } }] } },
    });
    expect(rich.count).toBe(1);
    expect(await metric(registry, 'shardline_es_docs_indexed_total', { table: 'users' })).toBe(3);
    expect(await metric(registry, 'shardline_es_docs_deleted_total', { table: 'users' })).toBe(1);
  });

  it('replaying an old batch after newer ones changes nothing; replaying the same batch is idempotent, not an error', async () => {
    const registry = new Registry();
    const sink = open(registry);
    const batchA = [
      rec('users', 'c', '10', 10n, user('10', 'v10')),
      rec('users', 'u', '10', 11n, user('10', 'v11')),
      rec('users', 'c', '11', 12n, user('11', 'v12')),
      rec('users', 'd', '11', 13n, user('11', 'v12')), // deleted in A …
      rec('users', 'c', '12', 14n, user('12', 'v14')), // inserted in A …
    ];
    const batchB = [
      rec('users', 'u', '10', 20n, user('10', 'v20')),
      rec('users', 'c', '11', 21n, user('11', 'v21')), // … re-inserted in B
      rec('users', 'd', '12', 22n, user('12', 'v14')), // … deleted in B
    ];
    expect(await sink.write(batchA)).toEqual([]);
    expect(await sink.write(batchB)).toEqual([]);
    const after = await stored('users');
    expect(Object.fromEntries(Object.entries(await visible('users')).map(([id, d]) => [id, d['name']]))).toEqual({
      '10': 'v20',
      '11': 'v21',
    });

    // A late replay of A: the delete of 11 must not remove the re-inserted row, the insert of 12 must not resurrect it.
    expect(await sink.write(batchA)).toEqual([]);
    expect(await stored('users')).toEqual(after);
    expect(await metric(registry, 'shardline_es_version_conflicts_total', { table: 'users' })).toBe(5);

    // Replaying B (same versions) rewrites identical content: no conflict, no dead letter, same state.
    expect(await sink.write(batchB)).toEqual([]);
    const again = await stored('users');
    expect(Object.fromEntries(Object.entries(again).map(([id, d]) => [id, d.source]))).toEqual(
      Object.fromEntries(Object.entries(after).map(([id, d]) => [id, d.source])),
    );
    expect(Object.fromEntries(Object.entries(again).map(([id, d]) => [id, d.version]))).toEqual({ '10': 20, '11': 21 });
    expect(Object.fromEntries(Object.entries(await stored('users', 'tombstones.v1')).map(([id, d]) => [id, d.version]))).toEqual({
      '11': 13,
      '12': 22,
    });
    expect(await metric(registry, 'shardline_es_version_conflicts_total', { table: 'users' })).toBe(5);
    expect(await metric(registry, 'shardline_es_dead_letters_total', { table: 'users' })).toBe(0);

    // Several records of one id in one batch: applied in order, the last version stands.
    expect(
      await sink.write([
        rec('users', 'c', '30', 30n, user('30', 'a')),
        rec('users', 'd', '30', 31n, user('30', 'a')),
        rec('users', 'c', '30', 32n, user('30', 'b')),
        rec('users', 'u', '30', 33n, user('30', 'c')),
      ]),
    ).toEqual([]);
    expect((await visible('users'))['30']).toMatchObject({ name: 'c' });
  });

  it('no late replay resurrects a deleted row even after ES forgot the delete (index.gc_deletes: 0s)', async () => {
    // The control: a real ES delete is forgotten once gc_deletes has passed, and an older insert comes back.
    const control = `${PREFIX}control`;
    await es.indices.create({ index: control, settings: { 'index.gc_deletes': '0s', 'index.number_of_replicas': 0 } });
    await es.index({ index: control, id: '1', version: 5, version_type: 'external', document: { a: 1 }, refresh: true });
    await es.delete({ index: control, id: '1', version: 10, version_type: 'external', refresh: true });
    await new Promise((r) => setTimeout(r, 1100));
    await es.indices.refresh({ index: control });
    await es.index({ index: control, id: '1', version: 6, version_type: 'external', document: { a: 2 }, refresh: true });
    expect((await es.count({ index: control })).count).toBe(1);

    // The sink's tombstones do not depend on gc_deletes.
    const sink = open(undefined, { template: { settings: { 'index.gc_deletes': '0s' } } });
    const insert = rec('users', 'c', '1', 5n, user('1', 'Ann'));
    expect(await sink.write([insert, rec('users', 'd', '1', 10n, user('1', 'Ann'))])).toEqual([]);
    const settings = await es.indices.getSettings({ index: `${PREFIX}users.v1`, name: 'index.gc_deletes' });
    expect(JSON.stringify(settings)).toContain('"0s"');
    await new Promise((r) => setTimeout(r, 1100));
    await es.indices.refresh({ index: `${PREFIX}users.v1` });
    expect(await sink.write([insert, rec('users', 'u', '1', 7n, user('1', 'Ann 2'))])).toEqual([]);
    expect(await visible('users')).toEqual({});
    expect(await stored('users')).toEqual({});
    expect(await byId('users', '1')).toEqual({ get: false, mget: false });
    expect((await stored('users', 'tombstones.v1'))['1']!.version).toBe(10);
    // A newer write (a re-insert) passes the tombstone.
    expect(await sink.write([rec('users', 'c', '1', 11n, user('1', 'Ann again'))])).toEqual([]);
    expect((await visible('users'))['1']).toMatchObject({ name: 'Ann again' });
  });

  it('a primary key change deletes the old id and indexes the new one, whatever order the two records arrive in', async () => {
    const sink = open();
    const order = (uid: string, id: string, amount: string): Row => ({ uid, order_id: id, amount, status: 'new' });
    const insert = rec('orders', 'c', '["1","7"]', 1n, order('1', '7', '5.00'));
    const move = rec('orders', 'u', '["1","8"]', 2n, order('1', '8', '5.00'), { previousId: '["1","7"]', before: order('1', '7', '5.00') });
    expect(await sink.write([insert, move])).toEqual([]);
    expect(Object.keys(await visible('orders'))).toEqual(['["1","8"]']);
    // The key change first, then a late insert of the old key (another partition): the old key stays deleted.
    await sink.write([insert]);
    expect(Object.keys(await visible('orders'))).toEqual(['["1","8"]']);
    expect(await byId('orders', '["1","7"]')).toEqual({ get: false, mget: false });
    expect((await stored('orders', 'tombstones.v1'))['["1","7"]']).toEqual({
      version: 2,
      source: { uid: '1', order_id: '7', _shardline: expect.objectContaining({ deleted: true, op: 'u' }) },
    });
  });

  it('a poison document comes back as a dead letter with the ES reason; the rest of the batch is indexed', async () => {
    const registry = new Registry();
    const sink = open(registry);
    const poison = rec('users', 'c', '2', 2n, user('2', 'Poison', { age: 'not a number' }));
    const dead = await sink.write([
      rec('users', 'c', '1', 1n, user('1', 'Ann')),
      poison,
      rec('users', 'c', '3', 3n, user('3', 'Cid')),
      rec('users', 'c', '4', 4n, user('4', 'Dee')),
    ]);
    expect(dead).toEqual([
      { record: poison, reason: expect.stringMatching(/^(document|mapper)_parsing_exception: .*\[age\] of type \[long\]/) },
    ]);
    expect(Object.keys(await visible('users')).sort()).toEqual(['1', '3', '4']);
    expect(await metric(registry, 'shardline_es_dead_letters_total', { table: 'users' })).toBe(1);
    expect(await metric(registry, 'shardline_es_docs_indexed_total', { table: 'users' })).toBe(3);
  });

  it('takes every canonical column type, zero dates included', async () => {
    const sink = open();
    const row: Row = {
      id: 1,
      u64: '18446744073709551615',
      i64: '-9223372036854775808',
      bits: '18446744073709551615',
      dec: '-12345678901234567890123456789012345.123456789012345678901234567890',
      f: 3.4e38,
      d: 1.7976931348623157e308,
      dt: '2024-02-29 23:59:59.000500',
      dt3: '2024-02-29 23:59:59.123',
      ts: '2038-01-19 03:14:07',
      day: '2024-02-29',
      t: '-838:59:59.000000',
      y: 2024,
      txt: 'a😀b',
      bin: 'AQIAAAAAAAA=',
      e: 'a',
      s: 'a,c',
      j: '{"a": 1, "b": [true, null]}',
      g: { srid: 0, wkb: 'AQEAAAAAAAAAAADwPwAAAAAAAABA' },
    };
    const zero: Row = {
      ...row,
      id: 2,
      dt: '0000-00-00 00:00:00.000000',
      dt3: '2024-00-00 00:00:00.000',
      ts: '0000-00-00 00:00:00',
      day: '0000-00-00',
      y: 0,
    };
    expect(await sink.write([rec('types', 'c', '1', 1n, row), rec('types', 'c', '2', 2n, zero)])).toEqual([]);
    const docs = await visible('types');
    expect(docs['1']).toEqual({ ...row, _shardline: expect.any(Object) });
    expect(docs['2']).toEqual({ ...zero, _shardline: expect.any(Object) });
    const hit = async (query: object) => (await es.search({ index: `${PREFIX}types`, query })).hits.hits.map((h) => h._id);
    expect(await hit({ range: { dt: { gte: '2024-02-29 23:59:59.000', lt: '2024-03-01' } } })).toEqual(['1']);
    expect(await hit({ term: { s: 'a,c' } })).toEqual(['1', '2']);
    expect(await hit({ match: { j: 'true' } })).toEqual(['1', '2']);
    expect(await hit({ term: { u64: '18446744073709551615' } })).toEqual(['1', '2']);
  });

  it('follows an ADD COLUMN: re-reads the schema and maps the new column before writing it', async () => {
    const schema: LogicalTableSchema = { ...SCHEMAS['users']!, columns: [...SCHEMAS['users']!.columns] };
    let reads = 0;
    const sink = open(undefined, {
      schemaOf: async () => {
        reads++;
        return schema;
      },
    });
    await sink.write([rec('users', 'c', '1', 1n, user('1', 'Ann'))]);
    schema.columns = [...schema.columns, col('nickname', 'varchar', 'varchar(20)', 'utf8mb4')];
    expect(await sink.write([rec('users', 'u', '1', 2n, user('1', 'Ann', { nickname: 'annie' }))])).toEqual([]);
    expect(reads).toBe(2);
    await es.indices.refresh({ index: `${PREFIX}users` });
    expect((await es.count({ index: `${PREFIX}users`, query: { match: { nickname: 'annie' } } })).count).toBe(1);
    // A column the schema does not show (dropped since): one more read, then kept in _source unindexed.
    expect(await sink.write([rec('users', 'u', '1', 3n, user('1', 'Ann', { legacy: 'x' }))])).toEqual([]);
    expect(await sink.write([rec('users', 'u', '1', 4n, user('1', 'Ann', { legacy: 'y' }))])).toEqual([]);
    expect(reads).toBe(3);
    expect((await visible('users'))['1']).toMatchObject({ legacy: 'y' });
  });

  it('maps a table of more columns than the default field limit, and one that grows past it by ADD COLUMN', async () => {
    // Elasticsearch refuses a mapping of more than index.mapping.total_fields.limit (1,000) fields;
    // a VARCHAR column is two (text and .keyword): 600 of them are 1,200 fields. InnoDB allows 1,017 columns.
    const wide = (n: number): LogicalTableSchema => ({
      table: 'wide',
      columns: [col('id', 'int'), ...Array.from({ length: n }, (_, i) => col(`c${i}`, 'varchar', 'varchar(20)', 'utf8mb4'))],
      primaryKey: ['id'],
    });
    const row = (id: number, n: number): Row =>
      Object.fromEntries([['id', id], ...Array.from({ length: n }, (_, i) => [`c${i}`, `v${id}-${i}`])]);
    let schema = wide(300);
    const sink = open(undefined, { schemaOf: async () => schema });
    expect(await sink.write([rec('wide', 'c', '1', 1n, row(1, 300))])).toEqual([]);
    schema = wide(1016);
    expect(await sink.write([rec('wide', 'c', '2', 2n, row(2, 1016))])).toEqual([]);
    await es.indices.refresh({ index: `${PREFIX}wide` });
    expect((await es.count({ index: `${PREFIX}wide`, query: { term: { 'c1015.keyword': 'v2-1015' } } })).count).toBe(1);
    expect((await es.count({ index: `${PREFIX}wide`, query: { term: { 'c299.keyword': 'v1-299' } } })).count).toBe(1);

    await cleanup();
    const fresh = open(undefined, { schemaOf: async () => wide(1016) });
    expect(await fresh.write([rec('wide', 'c', '3', 3n, row(3, 1016))])).toEqual([]);
    await es.indices.refresh({ index: `${PREFIX}wide` });
    expect((await es.count({ index: `${PREFIX}wide`, query: { term: { 'c700.keyword': 'v3-700' } } })).count).toBe(1);
  });

  it('indexes a table whose columns are named like Elasticsearch metadata fields (_id, _source, _routing), deletes included', async () => {
    // A column `_id` (data that came from MongoDB) cannot be a document field: it is stored and
    // searched as `_id_`, and a column `_id_` as `_id__`, so no two columns share a field.
    const schema: LogicalTableSchema = {
      table: 'meta_names',
      columns: [
        col('_id', 'varchar', 'varchar(24)', 'utf8mb4'),
        col('_id_', 'int'),
        col('_source', 'int'),
        col('_routing', 'int'),
        col('_private', 'int'),
      ],
      primaryKey: ['_id'],
    };
    const sink = open(undefined, { schemaOf: async () => schema });
    const row = (id: string, n: number): Row => ({ _id: id, _id_: n, _source: n + 1, _routing: n + 2, _private: n + 3 });
    expect(
      await sink.write([rec('meta_names', 'c', 'a1', 1n, row('65f0a1', 1)), rec('meta_names', 'c', 'b2', 2n, row('65f0b2', 10))]),
    ).toEqual([]);
    expect(await visible('meta_names')).toEqual({
      a1: { _id_: '65f0a1', _id__: 1, _source_: 2, _routing_: 3, _private: 4, _shardline: expect.objectContaining({ deleted: false }) },
      b2: { _id_: '65f0b2', _id__: 10, _source_: 11, _routing_: 12, _private: 13, _shardline: expect.objectContaining({ deleted: false }) },
    });
    const hits = await es.search({
      index: `${PREFIX}meta_names`,
      query: { bool: { filter: [{ term: { '_id_.keyword': '65f0b2' } }, { range: { _id__: { gte: 10 } } }] } },
    });
    expect(hits.hits.hits.map((h) => h._id)).toEqual(['b2']);
    expect(await sink.write([rec('meta_names', 'd', 'a1', 3n, row('65f0a1', 1))])).toEqual([]);
    expect(Object.keys(await visible('meta_names'))).toEqual(['b2']);
    expect(await stored('meta_names', 'tombstones.v1')).toEqual({
      a1: { version: 3, source: { _id_: '65f0a1', _shardline: expect.objectContaining({ deleted: true }) } },
    });
  });

  it('sets the table up again when its index is deleted under it, and purges old tombstones', async () => {
    const sink = open();
    await sink.write([rec('users', 'c', '1', 1n, user('1', 'Ann'))]);
    await es.indices.delete({ index: `${PREFIX}users.v1` });
    expect(await sink.write([rec('users', 'c', '2', 2n, user('2', 'Bob'))])).toEqual([]);
    expect(Object.keys(await visible('users'))).toEqual(['2']);
    const dayAgoUs = (Date.now() - 86_400_000) * 1000;
    await sink.write([
      rec('users', 'd', '2', 3n, user('2', 'Bob'), { tsUs: dayAgoUs }),
      rec('users', 'c', '3', 4n, user('3', 'Cid')),
      rec('users', 'd', '3', 5n, user('3', 'Cid')),
    ]);
    expect(await sink.purgeTombstones('users', 3_600_000)).toBe(1);
    expect(Object.keys(await stored('users'))).toEqual([]);
    expect(Object.keys(await stored('users', 'tombstones.v1'))).toEqual(['3']);
  });

  it('a delete through the alias of a deleted index: the empty index ES auto-creates under the alias name is removed, the table set up again', async () => {
    const sink = open();
    await sink.write([rec('users', 'c', '1', 1n, user('1', 'Ann')), rec('users', 'c', '2', 2n, user('2', 'Bob'))]);
    await es.indices.delete({ index: `${PREFIX}users.v1` });
    await es.indices.delete({ index: `${PREFIX}users.tombstones.v1` });
    // Only a delete: an externally versioned bulk delete ignores require_alias and auto-creates its
    // target, an unmapped index named like the alias, that no alias can be put over.
    expect(await sink.write([rec('users', 'd', '1', 3n, user('1', 'Ann'))])).toEqual([]);
    expect(await sink.write([rec('users', 'c', '3', 4n, user('3', 'Cid'))])).toEqual([]);
    const indices = (await es.cat.indices({ index: `${PREFIX}users*`, format: 'json' })) as { index?: string }[];
    expect(indices.map((i) => i.index).sort()).toEqual([`${PREFIX}users.tombstones.v1`, `${PREFIX}users.v1`]);
    expect(Object.keys(await es.indices.getAlias({ name: `${PREFIX}users` }))).toEqual([`${PREFIX}users.v1`]);
    const mapping = (await es.indices.getMapping({ index: `${PREFIX}users.v1` }))[`${PREFIX}users.v1`]!.mappings;
    expect(mapping.dynamic).toBe('false');
    expect(mapping.properties?.['name']).toMatchObject({ type: 'text' });
    expect(Object.keys(await visible('users'))).toEqual(['3']);
    expect(Object.keys(await stored('users', 'tombstones.v1'))).toEqual(['1']);
  });
});
