import type { Connection } from 'mysql2/promise';
import { Registry } from 'prom-client';
import { ArchiveSink, type ArchiveSinkOptions } from '../../src/cdc/sinks/archive/index.js';
import { readLogicalTableSchema, type LogicalTableSchema } from '../../src/cdc/schema/logical-columns.js';
import type { ChangeEvent } from '../../src/cdc/events/change-event.js';
import type { CanonicalValue } from '../../src/cdc/binlog/decoder/canonical-json.js';
import { documentId } from '../../src/cdc/events/document-id.js';
import type { SinkRecord } from '../../src/cdc/sinks/sink-record.js';
import { openMysqlSession, type MysqlSession } from '../../src/net/index.js';
import { openArchiveConnection } from '../../src/net/archive-connection.js';
import { openOracle, selectTableCanonical, type OracleRow } from '../support/select-canonical.js';
import { testConfig } from '../support/cluster.js';

const ARCHIVE_DB = 'it_archive_sink';
const SOURCE_DB = 'it_archive_sink_src';
const META = ['_shard', '_version', '_deleted', '_archived', '_archived_at'];

const cfg = testConfig();
const endpoint = { host: cfg.archive.host, port: cfg.archive.port, user: cfg.archive.user, password: cfg.archive.password };

let admin: MysqlSession;
let oracle: Connection;
/** Logical schemas by table: source tables in SOURCE_DB on the archive server, read from INFORMATION_SCHEMA. */
const schemas = new Map<string, LogicalTableSchema>();
const sinks: ArchiveSink[] = [];
/** Every schemaOf call: table and whether the sink asked for a refresh. */
const schemaCalls: [string, boolean][] = [];

function newSink(extra: Partial<ArchiveSinkOptions> = {}): ArchiveSink {
  const sink = new ArchiveSink({
    archive: { ...endpoint, flavour: 'mysql' },
    database: ARCHIVE_DB,
    maxBatchRows: cfg.cdc.archive.maxBatchRows,
    maxBatchBytes: cfg.cdc.archive.maxBatchBytes,
    schemaOf: async (table, opts) => {
      schemaCalls.push([table, opts?.refresh ?? false]);
      const s = schemas.get(table);
      if (!s) throw new Error(`no schema for ${table}`);
      return s;
    },
    retry: { baseMs: 5, maxMs: 50 },
    ...extra,
  });
  sinks.push(sink);
  return sink;
}

/** Creates a source table and reads its logical schema the way the CDC worker does. */
async function sourceTable(name: string, ddl: string): Promise<LogicalTableSchema> {
  await admin.query(`DROP TABLE IF EXISTS \`${SOURCE_DB}\`.\`${name}\``);
  await admin.query(`CREATE TABLE \`${SOURCE_DB}\`.\`${name}\` (${ddl}) DEFAULT CHARSET=utf8mb4`);
  const schema = await readLogicalTableSchema((sql, values) => admin.query(sql, values), name, SOURCE_DB, name);
  schemas.set(name, schema);
  return schema;
}

let nextOffset = 0;

/** A sink record for a change of `table`. */
function change(
  table: string,
  op: ChangeEvent['op'],
  version: bigint,
  before: Record<string, CanonicalValue> | null,
  after: Record<string, CanonicalValue> | null,
  previousId: string | null = null,
): SinkRecord {
  const schema = schemas.get(table)!;
  const image = (op === 'd' ? before : after)!;
  return {
    table,
    id: documentId(schema.primaryKey.map((k) => image[k] ?? null)),
    previousId,
    version,
    event: {
      op,
      before,
      after,
      source: {
        instance: 'shard-0',
        flavour: 'mysql',
        server_uuid: null,
        server_id: 1,
        db: 'shard_db',
        table: `${table}_0007`,
        logical_table: table,
        shard: 7,
        gtid: null,
        file: 'binlog.000001',
        pos: 4,
        row: 0,
        ts_us: 0,
        snapshot: 'false',
      },
      ts_ms: Date.now(),
    },
    origin: { topic: `it.${table}`, partition: 0, offset: String(nextOffset++) },
  };
}

/** The archive's rows of a table in canonical form, ordered by `order`. */
async function archived(table: string, order = 'id'): Promise<OracleRow[]> {
  return selectTableCanonical(oracle, `\`${ARCHIVE_DB}\`.\`${table}\``, `TRUE ORDER BY ${order}`);
}

/** Committed archive transactions so far (the batch-duration histogram's count). */
async function transactions(registry: Registry): Promise<number> {
  return Number(/shardline_archive_batch_duration_seconds_count (\d+)/.exec(await registry.metrics())?.[1]);
}

/** Source columns only. */
const data = (row: OracleRow | undefined): OracleRow => Object.fromEntries(Object.entries(row ?? {}).filter(([k]) => !META.includes(k)));

beforeAll(async () => {
  admin = await openMysqlSession(endpoint);
  await admin.query(`DROP DATABASE IF EXISTS \`${ARCHIVE_DB}\``);
  await admin.query(`DROP DATABASE IF EXISTS \`${SOURCE_DB}\``);
  await admin.query(`CREATE DATABASE \`${SOURCE_DB}\``);
  await admin.query("SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'");
  await admin.query("SET SESSION time_zone = '+00:00'");
  oracle = await openOracle(endpoint);
});

afterAll(async () => {
  for (const s of sinks) await s.close();
  await admin?.query(`DROP DATABASE IF EXISTS \`${ARCHIVE_DB}\``);
  await admin?.query(`DROP DATABASE IF EXISTS \`${SOURCE_DB}\``);
  await admin?.close();
  await oracle?.end();
});

describe('archive sink on MySQL 8.0', () => {
  it('round-trips every canonical type', async () => {
    await sourceTable(
      'types',
      `id INT NOT NULL PRIMARY KEY,
       ti TINYINT, ui INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
       de DECIMAL(65,30), d52 DECIMAL(5,2),
       fl FLOAT, db DOUBLE,
       dt DATE, dtm DATETIME(6), dt0 DATETIME, tm TIME(6), ts TIMESTAMP(6) NULL, yr YEAR,
       ch CHAR(10), vc VARCHAR(20), l1 VARCHAR(20) CHARACTER SET latin1, tx TEXT,
       bn BINARY(8), vb VARBINARY(16), bl BLOB,
       en ENUM('a','é€','c'), st SET('a','b','c','d'), e4 ENUM('x','😀'),
       b1 BIT(1), b64 BIT(64),
       js JSON, g GEOMETRY, pt POINT`,
    );
    const cols =
      'id, ti, ui, bi, bu, de, d52, fl, db, dt, dtm, dt0, tm, ts, yr, ch, vc, l1, tx, bn, vb, bl, en, st, e4, b1, b64, js, g, pt';
    await admin.query(
      `INSERT INTO \`${SOURCE_DB}\`.types (${cols}) VALUES
       (1, -128, 4294967295, -9223372036854775808, 18446744073709551615,
        '-12345678901234567890123456789012345.123456789012345678901234567890', -999.99,
        3.4e38, 1.7976931348623157e308,
        '0000-00-00', '0000-00-00 00:00:00.000000', '2024-00-00 00:00:00', '-838:59:59.000000', '0000-00-00 00:00:00', 0,
        'ab', 'a😀b  ', '€Œé', REPEAT('xyz', 1000),
        X'0102', X'00FF00', X'', 'é€', 'a,d', '😀', b'1', b'1111111111111111111111111111111111111111111111111111111111111111',
        '{"b": [1, 2.5, null, true], "a": "x\\\\ny\\\\"", "n": 18446744073709551615}', ST_GeomFromText('LINESTRING(0 0, 1 1, 2 -3.5)'), ST_GeomFromText('POINT(1 2)', 4326)),
       (2, 127, 0, 9223372036854775807, 0,
        '0.000000000000000000000000000001', 0.5,
        123456.789, 0.1,
        '2024-02-29', '2024-02-29 23:59:59.000500', '1000-01-01 00:00:00', '-00:00:00.000001', '2038-01-19 03:14:07.999999', 2024,
        '', '', '', '',
        X'0000000000000000', X'', X'DEADBEEF', 'a', '', 'x', b'0', b'0',
        '"null"', ST_GeomFromText('POLYGON((0 0, 4 0, 4 4, 0 0))'), ST_GeomFromText('POINT(-1.5 3)')),
       (3, ${Array.from({ length: 29 }, () => 'NULL').join(', ')})`,
      [],
    );
    const source = await selectTableCanonical(oracle, `\`${SOURCE_DB}\`.types`, 'TRUE ORDER BY id');
    expect(source).toHaveLength(3);
    expect(source[0]!['dt']).toBe('0000-00-00');
    expect(source[0]!['b64']).toBe('18446744073709551615');

    const sink = newSink();
    const dead = await sink.write(source.map((row, i) => change('types', 'c', 100n + BigInt(i), null, row)));
    expect(dead).toEqual([]);
    const rows = await archived('types');
    expect(rows.map(data)).toEqual(source);
    expect(rows.map((r) => [r['_shard'], r['_version'], r['_deleted']])).toEqual([
      [7, '100', 0],
      [7, '101', 0],
      [7, '102', 0],
    ]);

    // The archive columns have the source types; only the key is NOT NULL.
    const archiveSchema = await readLogicalTableSchema((sql, values) => admin.query(sql, values), 'types', ARCHIVE_DB, 'types');
    const sourceSchema = schemas.get('types')!;
    const expectedTypes = sourceSchema.columns.map((c) => [c.name, c.name === 'e4' ? 'varchar(13)' : c.columnType, c.charset]); // see archiveColumnType: a '?' label
    expect(archiveSchema.columns.slice(0, sourceSchema.columns.length).map((c) => [c.name, c.columnType, c.charset])).toEqual(
      expectedTypes,
    );
    expect(archiveSchema.columns.filter((c) => !c.nullable).map((c) => c.name)).toEqual([
      'id',
      '_version',
      '_deleted',
      '_archived',
      '_archived_at',
    ]);
    expect(archiveSchema.primaryKey).toEqual(['id']);
  });

  it('insert, update, delete, re-insert; older and same-version replays change nothing', async () => {
    await sourceTable('life', 'id BIGINT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(20), n INT');
    const registry = new Registry();
    const sink = newSink({ registry });
    const v1 = { id: '5', name: 'ann', n: 1 };
    const v2 = { id: '5', name: 'anne', n: 2 };
    const v4 = { id: '5', name: 'back', n: 4 };
    const history = [
      change('life', 'c', 10n, null, v1),
      change('life', 'u', 20n, v1, v2),
      change('life', 'd', 30n, v2, null),
      change('life', 'c', 40n, null, v4),
    ];

    expect(await sink.write(history.slice(0, 1))).toEqual([]);
    expect((await archived('life')).map((r) => [data(r), r['_version'], r['_deleted']])).toEqual([[v1, '10', 0]]);
    expect(await sink.write(history.slice(1, 2))).toEqual([]);
    expect((await archived('life')).map((r) => [data(r), r['_version'], r['_deleted']])).toEqual([[v2, '20', 0]]);
    expect(await sink.write(history.slice(2, 3))).toEqual([]);
    expect((await archived('life')).map((r) => [data(r), r['_version'], r['_deleted']])).toEqual([[v2, '30', 1]]);
    expect(await sink.write(history.slice(3, 4))).toEqual([]);
    const final = await archived('life');
    expect(final.map((r) => [data(r), r['_version'], r['_deleted']])).toEqual([[v4, '40', 0]]);

    // Replays: every older record, then the same version again, one by one and as one batch.
    for (const r of history) expect(await sink.write([r])).toEqual([]);
    expect(await sink.write([...history].reverse())).toEqual([]);
    expect(await archived('life')).toEqual(final); // _archived_at included: nothing was touched

    // A delete replayed after a newer re-insert does not delete it.
    expect(await sink.write([history[2]!])).toEqual([]);
    expect(await archived('life')).toEqual(final);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/shardline_archive_stale_rows_total\{table="life"\} 9/);
    expect(metrics).toMatch(/shardline_archive_rows_written_total\{table="life",kind="delete"\} 4/);
  });

  it('applies the highest version when one batch holds a key several times, in any order', async () => {
    await sourceTable('order_', 'id INT NOT NULL PRIMARY KEY, v VARCHAR(10)');
    const sink = newSink();
    const records = [3n, 1n, 5n, 2n, 4n].map((v) => change('order_', 'u', v, null, { id: 1, v: `v${v}` }));
    records.push(change('order_', 'd', 4n, { id: 1, v: 'v4' }, null));
    expect(await sink.write(records)).toEqual([]);
    expect((await archived('order_')).map((r) => [data(r), r['_version'], r['_deleted']])).toEqual([[{ id: 1, v: 'v5' }, '5', 0]]);
  });

  it('a primary-key change marks the old key deleted and writes the new one', async () => {
    await sourceTable('pk', 'a VARCHAR(10) NOT NULL, b INT NOT NULL, x INT, PRIMARY KEY (a, b)');
    const sink = newSink();
    const before = { a: 'k', b: 1, x: 10 };
    const after = { a: 'k', b: 2, x: 11 };
    expect(await sink.write([change('pk', 'c', 1n, null, before)])).toEqual([]);
    expect(await sink.write([change('pk', 'u', 2n, before, after, documentId(['k', 1]))])).toEqual([]);
    const rows = await archived('pk', 'a, b');
    expect(rows.map((r) => [data(r), r['_version'], r['_deleted']])).toEqual([
      [{ a: 'k', b: 1, x: 10 }, '2', 1],
      [{ a: 'k', b: 2, x: 11 }, '2', 0],
    ]);
    // The key is case-sensitive in the archive (_bin collation): 'K' is another row.
    expect(await sink.write([change('pk', 'c', 3n, null, { a: 'K', b: 1, x: 0 })])).toEqual([]);
    expect(await archived('pk', 'a, b')).toHaveLength(3);
  });

  it('splits batches by rows and by bytes', async () => {
    await sourceTable('many', 'id INT NOT NULL PRIMARY KEY, pad VARCHAR(2000)');
    const byRows = new Registry();
    const sink = newSink({ maxBatchRows: 7, registry: byRows });
    const records = Array.from({ length: 50 }, (_, i) => change('many', 'c', BigInt(i + 1), null, { id: i, pad: 'x'.repeat(10) }));
    expect(await sink.write(records)).toEqual([]);
    expect(await archived('many')).toHaveLength(50);
    expect(await transactions(byRows)).toBe(8); // ceil(50 / 7)

    const byBytes = new Registry();
    const small = newSink({ maxBatchBytes: 1024 * 10, registry: byBytes });
    const big = Array.from({ length: 30 }, (_, i) => change('many', 'u', BigInt(100 + i), null, { id: i, pad: 'y'.repeat(1900) }));
    expect(await small.write(big)).toEqual([]);
    const rows = await archived('many');
    expect(rows.slice(0, 30).every((r) => r['pad'] === 'y'.repeat(1900))).toBe(true);
    expect(await transactions(byBytes)).toBe(6); // ~2 KB a row, at most 10 KB a transaction: 5 rows each
  });

  it('dead-letters a record the archive refuses and applies the rest', async () => {
    await sourceTable('poison', 'id INT NOT NULL PRIMARY KEY, name VARCHAR(5), n TINYINT');
    const registry = new Registry();
    const sink = newSink({ registry, maxBatchRows: 100 });
    const records = Array.from({ length: 20 }, (_, i) => change('poison', 'c', BigInt(i + 1), null, { id: i, name: `n${i}`, n: i }));
    records[7] = change('poison', 'c', 8n, null, { id: 7, name: 'far too long', n: 7 });
    records[13] = change('poison', 'c', 14n, null, { id: 13, name: 'ok', n: 1000 });
    const dead = await sink.write(records);
    expect(dead.map((d) => d.record)).toEqual([records[7], records[13]]);
    expect(dead[0]!.reason).toMatch(/1406/);
    expect(dead[1]!.reason).toMatch(/1264/);
    expect(dead[0]!.reason).not.toMatch(/far too long/);
    expect((await archived('poison')).map((r) => r['id'])).toEqual(
      Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== 7 && i !== 13),
    );
    expect(await registry.metrics()).toMatch(/shardline_archive_dead_letters_total\{table="poison"\} 2/);
  });

  it('adds columns that appear in the source later', async () => {
    await sourceTable('grow', 'id INT NOT NULL PRIMARY KEY, a INT');
    const sink = newSink();
    expect(await sink.write([change('grow', 'c', 1n, null, { id: 1, a: 1 })])).toEqual([]);
    await admin.query(`ALTER TABLE \`${SOURCE_DB}\`.grow ADD COLUMN note VARCHAR(10) CHARACTER SET latin1, ADD COLUMN big BIGINT UNSIGNED`);
    schemas.set('grow', await readLogicalTableSchema((sql, values) => admin.query(sql, values), 'grow', SOURCE_DB, 'grow'));
    // The sink still holds the old schema: the unknown column makes it read the schema again.
    expect(await sink.write([change('grow', 'u', 2n, null, { id: 1, a: 2, note: 'é', big: '18446744073709551615' })])).toEqual([]);
    expect((await archived('grow')).map(data)).toEqual([{ id: 1, a: 2, note: 'é', big: '18446744073709551615' }]);
    expect(schemaCalls.filter(([t]) => t === 'grow')).toEqual([
      ['grow', false],
      ['grow', true],
    ]);
    // A new sink over an existing table with missing columns adds them too.
    await admin.query(`ALTER TABLE \`${SOURCE_DB}\`.grow ADD COLUMN late DATE`);
    schemas.set('grow', await readLogicalTableSchema((sql, values) => admin.query(sql, values), 'grow', SOURCE_DB, 'grow'));
    expect(await newSink().write([change('grow', 'u', 3n, null, { id: 1, a: 3, late: '0000-00-00' })])).toEqual([]);
    expect((await archived('grow')).map(data)).toEqual([{ id: 1, a: 3, note: 'é', big: '18446744073709551615', late: '0000-00-00' }]);
  });

  it('dead-letters the records of a table the archive cannot hold (InnoDB: 1,017 columns at most) and applies the rest', async () => {
    await sourceTable('wide', ['id INT PRIMARY KEY', ...Array.from({ length: 1016 }, (_, i) => `c${i} INT`)].join(', '));
    await sourceTable('narrow', 'id INT PRIMARY KEY, v INT');
    const sink = newSink();
    const wide = Object.fromEntries([['id', 1], ...Array.from({ length: 1016 }, (_, i) => [`c${i}`, i])]);
    const dead = await sink.write([change('wide', 'c', 1n, null, wide), change('narrow', 'c', 1n, null, { id: 1, v: 7 })]);
    expect(dead.map((d) => [d.record.table, d.reason])).toEqual([
      ['wide', expect.stringMatching(/^archive table wide: .*Too many columns/)],
    ]);
    expect((await archived('narrow')).map(data)).toEqual([{ id: 1, v: 7 }]);
  });

  it('retries after its connection is killed mid-statement', async () => {
    await sourceTable('kill', 'id INT NOT NULL PRIMARY KEY, v INT');
    const registry = new Registry();
    const ids: number[] = [];
    const sink = newSink({
      registry,
      connect: async (ep) => {
        const conn = await openArchiveConnection(ep);
        ids.push(Number((await conn.query('SELECT CONNECTION_ID() AS id')).rows[0]!['id']));
        return conn;
      },
    });
    expect(await sink.write([change('kill', 'c', 1n, null, { id: 1, v: 1 })])).toEqual([]);
    expect(ids).toHaveLength(1);
    // Hold the row's lock so the next write waits, then kill the sink's connection under it.
    const locker = await openMysqlSession(endpoint);
    try {
      await locker.query('START TRANSACTION');
      await locker.query(`SELECT * FROM \`${ARCHIVE_DB}\`.kill WHERE id = 1 FOR UPDATE`);
      const pending = sink.write([change('kill', 'u', 2n, null, { id: 1, v: 2 })]);
      for (let i = 0; i < 100; i++) {
        const waiting = await admin.query('SELECT ID FROM information_schema.PROCESSLIST WHERE ID = ? AND INFO IS NOT NULL', [ids[0]]);
        if (waiting.length > 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await admin.query('KILL ?', [ids[0]]);
      await new Promise((r) => setTimeout(r, 100));
      await locker.query('ROLLBACK');
      expect(await pending).toEqual([]);
    } finally {
      await locker.close();
    }
    expect(ids.length).toBeGreaterThanOrEqual(2);
    expect((await archived('kill')).map(data)).toEqual([{ id: 1, v: 2 }]);
    expect(await registry.metrics()).toMatch(/shardline_archive_retries_total\{reason="[A-Z_]+"\} [1-9]/);
  });
});
