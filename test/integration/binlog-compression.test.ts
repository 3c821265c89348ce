/**
 * Compressed and partial binlog events on the real servers: MySQL transaction compression
 * (TRANSACTION_PAYLOAD), partial JSON updates (PARTIAL_UPDATE_ROWS), tagged GTIDs (MySQL 9.7) and
 * MariaDB's log_bin_compress, each read back by the binlog reader and compared with SELECT.
 */
import mysql, { type Connection } from 'mysql2/promise';
import { BinlogReader, type BinlogEvent } from '../../src/cdc/binlog/index.js';
import { BinlogError } from '../../src/errors/index.js';
import { testConfig } from '../support/cluster.js';

const config = testConfig();
const DB = 'binlog_compress_it';
type Rows = Extract<BinlogEvent, { kind: 'rows' }>;
type Instance = (typeof config.instances)[number];

const byName = (name: string): Instance => {
  const inst = config.instances.find((i) => i.name === name);
  if (!inst) throw new Error(`no instance ${name} in the test config`);
  return inst;
};

async function admin(inst: Instance): Promise<Connection> {
  return mysql.createConnection({
    host: inst.host,
    port: inst.port,
    user: 'root',
    password: '',
    supportBigNumbers: true,
    bigNumberStrings: true,
    multipleStatements: false,
  });
}

async function position(conn: Connection): Promise<{ file: string; pos: number }> {
  const [v] = (await conn.query('SELECT VERSION() AS v')) as unknown as [Array<{ v: string }>];
  const mysql9 = /^(9|[1-9]\d)\./.test(v[0]!.v) && !/mariadb/i.test(v[0]!.v);
  const [rows] = (await conn.query(mysql9 ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS')) as unknown as [
    Array<{ File: string; Position: number | string }>,
  ];
  return { file: rows[0]!.File, pos: Number(rows[0]!.Position) };
}

/** Reads everything from `from` to now; returns the events of DB and the first decoding error, if any. */
async function readBack(
  inst: Instance,
  serverId: number,
  from: { file: string; pos: number } | { gtid: string },
): Promise<{ events: BinlogEvent[]; error: BinlogError | null }> {
  const reader = await BinlogReader.open({
    instance: inst.name,
    endpoint: {
      host: inst.host,
      port: inst.port,
      tls: inst.tls,
      serverPublicKey: inst.serverPublicKey,
      user: inst.replication.user,
      password: inst.replication.password,
    },
    replicaServerId: serverId,
    from,
    untilNow: true,
  });
  const events: BinlogEvent[] = [];
  try {
    for await (const ev of reader.events()) if (ev.kind !== 'rows' || ev.table.database === DB) events.push(ev);
    return { events, error: null };
  } catch (err) {
    if (err instanceof BinlogError) return { events, error: err };
    throw err;
  } finally {
    reader.close();
  }
}

const rowsIn = (events: BinlogEvent[], table: string) => events.filter((e): e is Rows => e.kind === 'rows' && e.table.table === table);

describe.each([
  ['shard-0', 4100000001],
  ['shard-1', 4100000002],
])('MySQL %s', (name, serverId) => {
  const inst = byName(name);
  let conn: Connection;

  beforeAll(async () => {
    conn = await admin(inst);
    await conn.query(`CREATE DATABASE IF NOT EXISTS ${DB}`);
  });
  afterAll(async () => {
    await conn?.end();
  });

  it('reads transactions written with binlog_transaction_compression=ON (TRANSACTION_PAYLOAD)', async () => {
    await conn.query(`DROP TABLE IF EXISTS ${DB}.tc`);
    await conn.query(`CREATE TABLE ${DB}.tc (id INT PRIMARY KEY, v VARCHAR(64), big LONGTEXT, d DECIMAL(30,10), j JSON)`);
    const from = await position(conn);
    await conn.query('SET SESSION binlog_transaction_compression = ON');
    await conn.query('BEGIN');
    for (let i = 1; i <= 50; i++)
      await conn.query(`INSERT INTO ${DB}.tc VALUES (?, ?, ?, ?, ?)`, [
        i,
        `row-${i}`,
        i === 7 ? 'xyz'.repeat(700000) : null,
        `${i}.0000000001`,
        JSON.stringify({ i, tags: ['a', 'b'] }),
      ]);
    await conn.query('COMMIT');
    await conn.query(`UPDATE ${DB}.tc SET v = CONCAT(v, '!'), big = REPEAT('q', 300000) WHERE id <= 10`);
    await conn.query(`DELETE FROM ${DB}.tc WHERE id > 40`);
    await conn.query('SET SESSION binlog_transaction_compression = OFF');
    const { events, error } = await readBack(inst, serverId, from);
    expect(error).toBeNull();
    const rows = rowsIn(events, 'tc');
    const flat = rows.flatMap((e) => e.rows.map((r) => ({ op: e.op, ...r })));
    expect(flat.filter((r) => r.op === 'c')).toHaveLength(50);
    expect(flat.filter((r) => r.op === 'u')).toHaveLength(10);
    expect(flat.filter((r) => r.op === 'd')).toHaveLength(10);
    const seven = flat.find((r) => r.op === 'c' && r.after!['id'] === 7)!;
    expect(seven.after!['big']).toBe('xyz'.repeat(700000));
    expect(seven.after!['d']).toBe('7.0000000001');
    const [now] = (await conn.query(`SELECT id, v, CAST(j AS CHAR) AS j FROM ${DB}.tc WHERE id <= 10 ORDER BY id`)) as unknown as [
      Array<{ id: number; v: string; j: string }>,
    ];
    const updates = flat.filter((r) => r.op === 'u');
    expect(updates.map((u) => ({ id: u.after!['id'], v: u.after!['v'], j: u.after!['j'] }))).toEqual(now);
    expect(updates.every((u) => u.after!['big'] === 'q'.repeat(300000))).toBe(true);
  });

  it('applies partial JSON updates (binlog_row_value_options=PARTIAL_JSON, full row image) like the server', async () => {
    await conn.query(`DROP TABLE IF EXISTS ${DB}.pj`);
    await conn.query(`CREATE TABLE ${DB}.pj (id INT PRIMARY KEY, j JSON, k JSON)`);
    await conn.query(
      `INSERT INTO ${DB}.pj VALUES (1, '{"a": 1, "b": [1, 2, 3], "c": {"d": "x"}, "big": 18446744073709551615, "s": "a long enough string to be replaced in place"}', '[1, {"x": 2}]')`,
    );
    const from = await position(conn);
    await conn.query("SET SESSION binlog_row_image = 'FULL', binlog_row_value_options = 'PARTIAL_JSON'");
    const statements = [
      `UPDATE ${DB}.pj SET j = JSON_SET(j, '$.a', 2, '$.new', 'v', '$.b[1]', 'two', '$."sp ace"', -1.25)`,
      `UPDATE ${DB}.pj SET j = JSON_REPLACE(j, '$.c.d', 'yy', '$.s', 'short'), k = JSON_SET(k, '$[1].x', JSON_ARRAY(true, NULL))`,
      `UPDATE ${DB}.pj SET j = JSON_REMOVE(j, '$.b[0]', '$.c'), k = JSON_REMOVE(k, '$[0]')`,
    ];
    const expected: Array<{ j: string; k: string }> = [];
    for (const sql of statements) {
      await conn.query(sql);
      const [r] = (await conn.query(`SELECT CAST(j AS CHAR) AS j, CAST(k AS CHAR) AS k FROM ${DB}.pj WHERE id = 1`)) as unknown as [
        Array<{ j: string; k: string }>,
      ];
      expected.push(r[0]!);
    }
    await conn.query("SET SESSION binlog_row_value_options = ''");
    const { events, error } = await readBack(inst, serverId + 10, from);
    expect(error).toBeNull();
    const partial = rowsIn(events, 'pj');
    expect(partial.map((e) => ({ j: e.rows[0]!.after!['j'], k: e.rows[0]!.after!['k'] }))).toEqual(expected);
  });

  it('stops with a typed error on partial JSON under binlog_row_image=MINIMAL (the document is not in the binlog)', async () => {
    await conn.query(`DROP TABLE IF EXISTS ${DB}.pm`);
    await conn.query(`CREATE TABLE ${DB}.pm (id INT PRIMARY KEY, j JSON)`);
    await conn.query(`INSERT INTO ${DB}.pm VALUES (1, '{"a": 1, "s": "some long string here"}')`);
    const from = await position(conn);
    await conn.query("SET SESSION binlog_row_image = 'MINIMAL', binlog_row_value_options = 'PARTIAL_JSON'");
    await conn.query(`UPDATE ${DB}.pm SET j = JSON_SET(j, '$.a', 5)`);
    await conn.query("SET SESSION binlog_row_image = 'FULL', binlog_row_value_options = ''");
    const { error } = await readBack(inst, serverId + 20, from);
    expect(error?.code).toBe('BINLOG_DECODE');
    expect(error?.message).toMatch(/without its value in the before image/);
  });
});

describe('MySQL 9.7 tagged GTIDs', () => {
  const inst = byName('shard-1');

  it('decodes GTID_TAGGED as uuid:tag:gno', async () => {
    const conn = await admin(inst);
    try {
      const [mode] = (await conn.query('SELECT @@gtid_mode AS m, @@server_uuid AS u')) as unknown as [Array<{ m: string; u: string }>];
      expect(mode[0]!.m).toBe('ON');
      await conn.query(`CREATE DATABASE IF NOT EXISTS ${DB}`);
      await conn.query(`CREATE TABLE IF NOT EXISTS ${DB}.tg (id INT PRIMARY KEY)`);
      await conn.query(`DELETE FROM ${DB}.tg`);
      const from = await position(conn);
      await conn.query("SET gtid_next = 'AUTOMATIC:shardline_it'");
      await conn.query(`INSERT INTO ${DB}.tg VALUES (1)`);
      await conn.query("SET gtid_next = 'AUTOMATIC'");
      const [exec] = (await conn.query('SELECT @@gtid_executed AS g')) as unknown as [Array<{ g: string }>];
      const gno = /shardline_it:(?:\d+-)?(\d+)/.exec(exec[0]!.g.replace(/\n/g, ''))![1]!;
      const { events, error } = await readBack(inst, 4100000030, from);
      expect(error).toBeNull();
      const gtids = events.filter((e) => e.kind === 'gtid').map((e) => e.gtid);
      expect(gtids).toContain(`${mode[0]!.u}:shardline_it:${gno}`);
      // a reader resumes by a GTID set that holds the tag (COM_BINLOG_DUMP_GTID, tagged format):
      // the server accepts it and sends only what came after
      await conn.query(`INSERT INTO ${DB}.tg VALUES (2)`);
      const [after] = (await conn.query('SELECT @@gtid_executed AS g')) as unknown as [Array<{ g: string }>];
      await conn.query(`INSERT INTO ${DB}.tg VALUES (3)`);
      const resumed = await readBack(inst, 4100000031, { gtid: exec[0]!.g.replace(/\s+/g, '') });
      expect(resumed.error).toBeNull();
      const inserted = resumed.events.flatMap((e) =>
        e.kind === 'rows' && e.table.table === 'tg' ? e.rows.map((r) => r.after!['id']) : [],
      );
      expect(inserted).toEqual([2, 3]);
      const last = await readBack(inst, 4100000032, { gtid: after[0]!.g.replace(/\s+/g, '') });
      expect(last.events.flatMap((e) => (e.kind === 'rows' && e.table.table === 'tg' ? e.rows.map((r) => r.after!['id']) : []))).toEqual([
        3,
      ]);
    } finally {
      await conn.end();
    }
  });
});

describe('MariaDB log_bin_compress', () => {
  const inst = byName('shard-2');

  it('decodes compressed query and rows events like plain ones', async () => {
    const conn = await admin(inst);
    const [saved] = (await conn.query('SELECT @@global.log_bin_compress AS c, @@global.log_bin_compress_min_len AS l')) as unknown as [
      Array<{ c: number; l: number }>,
    ];
    try {
      await conn.query(`CREATE DATABASE IF NOT EXISTS ${DB}`);
      await conn.query(`DROP TABLE IF EXISTS ${DB}.mc`);
      await conn.query(`CREATE TABLE ${DB}.mc (id INT PRIMARY KEY, v VARCHAR(300), t LONGTEXT, d DECIMAL(12,3))`);
      await conn.query('SET GLOBAL log_bin_compress = ON, GLOBAL log_bin_compress_min_len = 10');
      const writer = await admin(inst);
      const from = await position(writer);
      try {
        await writer.query(
          `INSERT INTO ${DB}.mc VALUES (1, 'héllo wörld', REPEAT('compress me ', 5000), 123456789.125), (2, NULL, 'x', -0.5)`,
        );
        await writer.query(`UPDATE ${DB}.mc SET v = REPEAT('v', 250), d = 1 WHERE id = 1`);
        await writer.query(`DELETE FROM ${DB}.mc WHERE id = 2`);
        await writer.query(`DROP TABLE IF EXISTS ${DB}.mc_after_compressed_ddl`);
        await writer.query(
          `CREATE TABLE ${DB}.mc_after_compressed_ddl (id INT PRIMARY KEY, note VARCHAR(100) DEFAULT 'a default long enough to compress')`,
        );
      } finally {
        await writer.end();
      }
      await conn.query(
        `SET GLOBAL log_bin_compress = ${Number(saved[0]!.c) ? 'ON' : 'OFF'}, GLOBAL log_bin_compress_min_len = ${Number(saved[0]!.l)}`,
      );
      const { events, error } = await readBack(inst, 4100000040, from);
      expect(error).toBeNull();
      const rows = rowsIn(events, 'mc');
      const flat = rows.flatMap((e) => e.rows.map((r) => ({ op: e.op, ...r })));
      expect(flat.map((r) => r.op)).toEqual(['c', 'c', 'u', 'd']);
      expect(flat.slice(0, 2).map((r) => r.after)).toEqual([
        { id: 1, v: 'héllo wörld', t: 'compress me '.repeat(5000), d: '123456789.125' },
        { id: 2, v: null, t: 'x', d: '-0.500' },
      ]);
      expect(flat[2]!.after).toEqual({ id: 1, v: 'v'.repeat(250), t: 'compress me '.repeat(5000), d: '1.000' });
      expect(flat[3]!.before).toEqual({ id: 2, v: null, t: 'x', d: '-0.500' });
      const sql = events.filter((e): e is Extract<BinlogEvent, { kind: 'query' }> => e.kind === 'query').map((e) => e.sql);
      expect(sql.some((s) => s.includes('mc_after_compressed_ddl'))).toBe(true);
    } finally {
      await conn.query(
        `SET GLOBAL log_bin_compress = ${Number(saved[0]!.c) ? 'ON' : 'OFF'}, GLOBAL log_bin_compress_min_len = ${Number(saved[0]!.l)}`,
      );
      await conn.end();
    }
  });
});
