/**
 * Every column value the binlog reader decodes equals what the server returns by SELECT, in the
 * canonical JSON encoding (schemas/canonical-values.md), on MySQL 8.0, MySQL 9.7 and MariaDB 10.11:
 * a table with every column type, rows inserted, updated in every column (under several session
 * time zones) and deleted, then read back from the binlog and compared image by image with the
 * SELECTs taken before and after each statement. Every type is there twice: as created, and as a
 * column added by ALTER TABLE after all the others (GEOMETRY and VECTOR included), where the
 * TABLE_MAP's charset list has entries for the columns before it that MySQL and MariaDB count
 * differently.
 */
import mysql, { type Connection } from 'mysql2/promise';
import { BinlogReader, canonicalRow, type BinlogEvent } from '../../src/cdc/binlog/index.js';
import { collationCharset } from '../../src/cdc/binlog/decoder/collation-charsets.js';
import { testConfig } from '../support/cluster.js';
import { openOracle, selectTableCanonical, type OracleRow } from '../support/select-canonical.js';

const config = testConfig();
const DB = 'binlog_types_it';
const TABLE = 'types_matrix';

type Flavour = 'mysql' | 'mariadb';
/** Four value sets (SQL expressions): A → B → Z → C are the successive UPDATEs, so neighbours differ in every column. */
type Values = [a: string, b: string, z: string, c: string];
interface Column {
  name: string;
  type: string;
  values: Values;
  maria?: { type?: string; values?: Values };
  /** Only on servers where this holds (default: all). */
  only?: (flavour: Flavour, version: string) => boolean;
}

const rep = (s: string, n: number) => `REPEAT('${s}', ${n})`;

const myJson = [
  `JSON_OBJECT(
    'nested', JSON_OBJECT(
      'ints', JSON_ARRAY(0, 1, -1, 32767, -32768, 65535, 65536, -32769, 2147483647, -2147483648, 4294967295, 4294967296, 9223372036854775807, -9223372036854775808, 18446744073709551615),
      'lits', JSON_ARRAY(true, false, NULL)),
    'dec', CAST('-1.500' AS DECIMAL(10,3)),
    'dec0', CAST('12345' AS DECIMAL(5,0)),
    'bigdec', CAST('-12345678901234567890.123456789012345678901234567890' AS DECIMAL(65,30)),
    'dbls', JSON_ARRAY(3.14e0, 1e0, -0.5e0, 0e0, -0e0, 1e15, 1e16, 1e20, -1e21, 1e300, 1.5e-7, 0.0001e0, 0.1e0, 123456789012345678e0, -2.5e-300, 1.7976931348623157e308, 5e-324, 1.2345678901234567e-10, -1.2345678901234567e-10, 1e-14, 1.5e-14, 1e-15, 123456789012345.6e0, 1234567890123456e0, 123456789012345678901234567890e0),
    'str', CONCAT('q " b \\\\ t \t n \n r \r c ', CHAR(1 USING utf8mb4), CHAR(31 USING utf8mb4), CHAR(127 USING utf8mb4), ' é € 😀 / <>&'),
    'date', CAST('2024-02-29' AS DATE),
    'dt', CAST('2024-02-29 23:59:59.000500' AS DATETIME(6)),
    'dt0', CAST('2024-02-29 23:59:59' AS DATETIME),
    'dt3', CAST('1000-01-01 00:00:00.123' AS DATETIME(3)),
    'time', CAST('-838:59:59' AS TIME),
    'time6', CAST('-00:00:00.000001' AS TIME(6)),
    'time3', CAST('12:34:56.789' AS TIME(3)),
    'ts', (SELECT ts6 FROM ${DB}.ts_source LIMIT 1),
    'eo', JSON_OBJECT(), 'ea', JSON_ARRAY(),
    'bin', CAST(X'00FF' AS BINARY), 'bits', b'101',
    'k é😀 "', 1)`,
  `JSON_OBJECT('big', ${rep('x', 70000)}, 'arr', JSON_ARRAY(1, 'a', JSON_OBJECT('k', 2.5e0), 70000, -70000, 4294967295, true, NULL, JSON_ARRAY()), 'small', JSON_OBJECT('s', 'é'))`,
  `CAST('null' AS JSON)`,
  `CAST('[1, "two", 3.5, {"a": {"b": [[], {}]}}, -0.0, 100000000000000000000]' AS JSON)`,
] as Values;

const COLUMNS: Column[] = [
  { name: 'ti', type: 'TINYINT', values: ['-128', '127', '0', '1'] },
  { name: 'tiu', type: 'TINYINT UNSIGNED', values: ['0', '255', '0', '128'] },
  { name: 'si', type: 'SMALLINT', values: ['-32768', '32767', '0', '-1'] },
  { name: 'siu', type: 'SMALLINT UNSIGNED', values: ['0', '65535', '0', '32768'] },
  { name: 'mi', type: 'MEDIUMINT', values: ['-8388608', '8388607', '0', '-1'] },
  { name: 'miu', type: 'MEDIUMINT UNSIGNED', values: ['0', '16777215', '0', '8388608'] },
  { name: 'i', type: 'INT', values: ['-2147483648', '2147483647', '0', '-1'] },
  { name: 'iu', type: 'INT UNSIGNED', values: ['0', '4294967295', '0', '2147483648'] },
  { name: 'bi', type: 'BIGINT', values: ['-9223372036854775808', '9223372036854775807', '0', '-1'] },
  { name: 'biu', type: 'BIGINT UNSIGNED', values: ['0', '18446744073709551615', '0', '9223372036854775808'] },
  {
    name: 'd65',
    type: 'DECIMAL(65,30)',
    values: [
      "'-12345678901234567890123456789012345.123456789012345678901234567890'",
      "'99999999999999999999999999999999999.999999999999999999999999999999'",
      '0',
      "'-0.000000000000000000000000000001'",
    ],
  },
  { name: 'd10', type: 'DECIMAL(10,3)', values: ["'-1.500'", "'9999999.999'", '0', "'-0.001'"] },
  { name: 'd5', type: 'DECIMAL(5,0)', values: ['-99999', '99999', '0', '-1'] },
  { name: 'd33', type: 'DECIMAL(3,3)', values: ["'-0.123'", "'0.999'", '0', "'0.001'"] },
  { name: 'd18', type: 'DECIMAL(18,9)', values: ["'-123456789.123456789'", "'999999999.999999999'", '0', "'0.000000001'"] },
  { name: 'd20u', type: 'DECIMAL(20,2) UNSIGNED', values: ["'0.01'", "'999999999999999999.99'", '0', "'1000000000.5'"] },
  { name: 'f', type: 'FLOAT', values: ['-3.4e38', '3.4e38', '0', '3.14'] },
  { name: 'f2', type: 'FLOAT', values: ['1.17549e-38', '-16777217', '0.1', '123456.789'] },
  { name: 'dbl', type: 'DOUBLE', values: ['-1.7976931348623157e308', '1.7976931348623157e308', '0', '0.1'] },
  { name: 'dbl2', type: 'DOUBLE', values: ['2.2250738585072014e-308', '-123456789012345678', '1e-300', '3.141592653589793'] },
  { name: 'dt', type: 'DATE', values: ["'1000-01-01'", "'9999-12-31'", "'0000-00-00'", "'2024-02-29'"] },
  { name: 'dtz', type: 'DATE', values: ["'2024-00-00'", "'2024-02-29'", "'0000-01-01'", "'2024-12-00'"] },
  { name: 't0', type: 'TIME', values: ["'-838:59:59'", "'838:59:59'", "'00:00:00'", "'-00:00:01'"] },
  { name: 't1', type: 'TIME(1)', values: ["'-00:00:00.1'", "'838:59:58.9'", "'00:00:00.0'", "'-12:34:56.5'"] },
  { name: 't2', type: 'TIME(2)', values: ["'-00:00:00.01'", "'12:00:00.99'", "'00:00:00'", "'-01:00:00.50'"] },
  { name: 't3', type: 'TIME(3)', values: ["'-12:34:56.789'", "'00:00:00.001'", "'00:00:00'", "'-00:00:00.999'"] },
  { name: 't4', type: 'TIME(4)', values: ["'-00:00:00.0001'", "'23:59:59.9999'", "'00:00:00'", "'-100:00:00.5000'"] },
  { name: 't5', type: 'TIME(5)', values: ["'-00:00:00.00001'", "'-838:59:58.99999'", "'00:00:00'", "'10:10:10.12345'"] },
  { name: 't6', type: 'TIME(6)', values: ["'-00:00:00.000001'", "'-838:59:59.000000'", "'00:00:00'", "'-00:00:01.999999'"] },
  { name: 't6b', type: 'TIME(6)', values: ["'838:59:59.000000'", "'00:00:00.000001'", "'-00:00:00.500000'", "'-12:00:00.000500'"] },
  {
    name: 'dt0',
    type: 'DATETIME',
    values: ["'1000-01-01 00:00:00'", "'9999-12-31 23:59:59'", "'0000-00-00 00:00:00'", "'2024-02-29 12:00:00'"],
  },
  {
    name: 'dt1',
    type: 'DATETIME(1)',
    values: ["'1000-01-01 00:00:00.1'", "'9999-12-31 23:59:59.9'", "'0000-00-00 00:00:00'", "'2024-02-29 23:59:59.5'"],
  },
  {
    name: 'dt2',
    type: 'DATETIME(2)',
    values: ["'1000-01-01 00:00:00.01'", "'9999-12-31 23:59:59.99'", "'0000-00-00 00:00:00'", "'2024-02-29 23:59:59.50'"],
  },
  {
    name: 'dt3',
    type: 'DATETIME(3)',
    values: ["'1000-01-01 00:00:00.001'", "'9999-12-31 23:59:59.999'", "'0000-00-00 00:00:00'", "'2024-02-29 23:59:59.500'"],
  },
  {
    name: 'dt4',
    type: 'DATETIME(4)',
    values: ["'1000-01-01 00:00:00.0001'", "'9999-12-31 23:59:59.9999'", "'0000-00-00 00:00:00'", "'2024-02-29 23:59:59.0005'"],
  },
  {
    name: 'dt5',
    type: 'DATETIME(5)',
    values: ["'1000-01-01 00:00:00.00001'", "'9999-12-31 23:59:59.99999'", "'0000-00-00 00:00:00'", "'2024-02-29 23:59:59.00050'"],
  },
  {
    name: 'dt6',
    type: 'DATETIME(6)',
    values: [
      "'2024-02-29 23:59:59.000500'",
      "'9999-12-31 23:59:59.999999'",
      "'0000-00-00 00:00:00.000000'",
      "'1000-01-01 00:00:00.000001'",
    ],
  },
  {
    name: 'dt6z',
    type: 'DATETIME(6)',
    values: ["'2024-00-00 00:00:00.000001'", "'1970-01-01 00:00:00'", "'2024-02-00 10:00:00'", "'2038-01-19 03:14:08.000001'"],
  },
  {
    name: 'ts0',
    type: 'TIMESTAMP NULL DEFAULT NULL',
    values: ["'1970-01-01 00:00:01'", "'2038-01-19 03:14:07'", "'0000-00-00 00:00:00'", "'2024-02-29 23:59:59'"],
  },
  {
    name: 'ts1',
    type: 'TIMESTAMP(1) NULL DEFAULT NULL',
    values: ["'1970-01-01 00:00:01.1'", "'2038-01-19 03:14:07.9'", "'0000-00-00 00:00:00'", "'2024-02-29 23:59:59.5'"],
  },
  {
    name: 'ts2',
    type: 'TIMESTAMP(2) NULL DEFAULT NULL',
    values: ["'1970-01-01 00:00:01.01'", "'2038-01-19 03:14:07.99'", "'0000-00-00 00:00:00'", "'2024-02-29 23:59:59.05'"],
  },
  {
    name: 'ts3',
    type: 'TIMESTAMP(3) NULL DEFAULT NULL',
    values: ["'1970-01-01 00:00:01.001'", "'2038-01-19 03:14:07.999'", "'0000-00-00 00:00:00'", "'2024-02-29 23:59:59.005'"],
  },
  {
    name: 'ts4',
    type: 'TIMESTAMP(4) NULL DEFAULT NULL',
    values: ["'1970-01-01 00:00:01.0001'", "'2038-01-19 03:14:07.9999'", "'0000-00-00 00:00:00'", "'2024-02-29 23:59:59.0005'"],
  },
  {
    name: 'ts5',
    type: 'TIMESTAMP(5) NULL DEFAULT NULL',
    values: ["'1970-01-01 00:00:01.00001'", "'2038-01-19 03:14:07.99999'", "'0000-00-00 00:00:00'", "'2024-02-29 23:59:59.00005'"],
  },
  {
    name: 'ts6',
    type: 'TIMESTAMP(6) NULL DEFAULT NULL',
    values: [
      "'1970-01-01 00:00:01.000001'",
      "'2038-01-19 03:14:07.999999'",
      "'0000-00-00 00:00:00.000000'",
      "'2024-02-29 23:59:59.000500'",
    ],
  },
  { name: 'y', type: 'YEAR', values: ['1901', '2155', '0', '2024'] },
  { name: 'c4', type: 'CHAR(10) CHARACTER SET utf8mb4', values: ["'a😀b'", "'ab  '", "''", "'😀😀😀'"] },
  { name: 'vc4', type: 'VARCHAR(100) CHARACTER SET utf8mb4', values: ["'x😀 é'", "'trailing  '", "''", "'tab\\tnl\\n'"] },
  { name: 'tx4', type: 'TEXT CHARACTER SET utf8mb4', values: ["'😀'", "'text'", "''", rep('é', 1000)] },
  { name: 'c3', type: 'CHAR(10) CHARACTER SET utf8mb3', values: ["'é€ñ'", "'abc'", "''", "'中文'"] },
  { name: 'vc3', type: 'VARCHAR(50) CHARACTER SET utf8mb3', values: ["'中文 €'", "'é'", "''", "'abc '"] },
  { name: 'cl1', type: 'CHAR(10) CHARACTER SET latin1', values: ["'é€'", "'abc'", "''", "'ÿ‰'"] },
  { name: 'vl1', type: 'VARCHAR(50) CHARACTER SET latin1', values: ["'é€‚ƒ„'", "'x'", "''", "'Ø'"] },
  { name: 'txl1', type: 'TEXT CHARACTER SET latin1', values: ["'é€'", "'y'", "''", "'Œ'"] },
  { name: 'c255', type: 'CHAR(255) CHARACTER SET utf8mb4', values: [rep('é', 255), "'x'", "''", rep('😀', 255)] },
  { name: 'c200l1', type: 'CHAR(200) CHARACTER SET latin1', values: [rep('é', 200), "'x'", "''", rep('€', 200)] },
  { name: 'bin8', type: 'BINARY(8)', values: ["X'0102'", "X'FFFFFFFFFFFFFFFF'", "''", "X'0000000000000001'"] },
  { name: 'bin1', type: 'BINARY(1)', values: ["X'00'", "X'FF'", "X'20'", "X'00'"] },
  { name: 'vbin', type: 'VARBINARY(100)', values: ["X'00FF00'", "X'DEADBEEF'", "X''", "X'0000'"] },
  { name: 'vbin300', type: 'VARBINARY(300)', values: [`UNHEX(${rep('00', 300)})`, "X'20'", "X''", "X'2000'"] },
  { name: 'tb', type: 'TINYBLOB', values: ["X'00'", "X'FF'", "''", "X'0102'"] },
  { name: 'b', type: 'BLOB', values: [`UNHEX(${rep('AB', 300)})`, "X'00'", "''", "X'FFFE'"] },
  { name: 'mb', type: 'MEDIUMBLOB', values: [`UNHEX(${rep('CD', 70000)})`, "X'01'", "''", "X'02'"] },
  { name: 'lb', type: 'LONGBLOB', values: ["X'00000000'", `UNHEX(${rep('EF', 100000)})`, "''", "X'03'"] },
  { name: 'tt', type: 'TINYTEXT CHARACTER SET utf8mb4', values: ["'😀'", "'tiny'", "''", "'é'"] },
  { name: 'mt', type: 'MEDIUMTEXT CHARACTER SET utf8mb4', values: [rep('m', 70000), "'medium'", "''", "'😀'"] },
  { name: 'lt', type: 'LONGTEXT CHARACTER SET utf8mb4', values: ["'long'", rep('é', 100000), "''", "'€'"] },
  { name: 'e', type: "ENUM('a','b','c','é😀') CHARACTER SET utf8mb4", values: ["'a'", "'é😀'", "''", "'c'"] },
  { name: 'el1', type: "ENUM('x','é','€') CHARACTER SET latin1", values: ["'é'", "'€'", "'x'", "'é'"] },
  { name: 's', type: "SET('a','b','c','d')", values: ["'a,c'", "'a,b,c,d'", "''", "'d'"] },
  { name: 's9', type: "SET('m1','m2','m3','m4','m5','m6','m7','m8','m9')", values: ["'m1,m9'", "'m9'", "''", "'m2,m3'"] },
  { name: 'sl1', type: "SET('é','€','x') CHARACTER SET latin1", values: ["'é,€'", "'x'", "''", "'€'"] },
  { name: 'bit1', type: 'BIT(1)', values: ["b'1'", "b'0'", "b'1'", "b'0'"] },
  { name: 'bit10', type: 'BIT(10)', values: ["b'1000000001'", "b'1111111111'", "b'0'", "b'1'"] },
  { name: 'bit64', type: 'BIT(64)', values: ["X'FFFFFFFFFFFFFFFF'", "b'1'", "b'0'", "X'8000000000000000'"] },
  {
    name: 'j',
    type: 'JSON',
    values: myJson,
    maria: {
      values: [
        `'{"a": [1, 2.50, "é😀", -0.0, 1e300, 18446744073709551616], "b":{}, "c": "\\\\u00e9\\\\n"}'`,
        `CONCAT('{"big":"', ${rep('x', 70000)}, '"}')`,
        "'null'",
        `'[1,  "two" ]'`,
      ],
    },
  },
  {
    name: 'j2',
    type: 'JSON',
    values: [`CAST('"scalar é"' AS JSON)`, `CAST('-1.5' AS JSON)`, `CAST('true' AS JSON)`, `CAST('18446744073709551615' AS JSON)`],
    maria: { values: [`'"scalar é"'`, `'-1.5'`, `'true'`, `'18446744073709551615'`] },
  },
  {
    name: 'g',
    type: 'GEOMETRY',
    values: [
      "ST_GeomFromText('POINT(1 2)', 4326)",
      "ST_GeomFromText('LINESTRING(0 0,1 1,2 2)', 0)",
      "ST_GeomFromText('POINT(0 0)')",
      "ST_GeomFromText('MULTIPOINT((1 1),(2 2))', 3857)",
    ],
  },
  {
    name: 'p',
    type: 'POINT',
    values: [
      "ST_GeomFromText('POINT(1 2)', 4326)",
      "ST_GeomFromText('POINT(-1.5 2.25)')",
      'POINT(0, 0)',
      "ST_GeomFromText('POINT(3 4)', 3857)",
    ],
  },
  {
    name: 'pg',
    type: 'POLYGON',
    values: [
      "ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))', 3857)",
      "ST_GeomFromText('POLYGON((0 0,0 1,1 1,0 0))', 4326)",
      "ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))')",
      "ST_GeomFromText('POLYGON((5 5,6 5,6 6,5 5))', 3857)",
    ],
  },
  {
    name: 'vec',
    type: 'VECTOR(3)',
    values: [
      "STRING_TO_VECTOR('[1,2,3.5]')",
      "STRING_TO_VECTOR('[-0.1,3.4e38,0]')",
      "STRING_TO_VECTOR('[0,0,0]')",
      "STRING_TO_VECTOR('[1e-30,-1,16777217]')",
    ],
    only: (flavour, version) => flavour === 'mysql' && Number(version.split('.')[0]) >= 9,
  },
];

function typeOf(c: Column, flavour: Flavour): string {
  return (flavour === 'mariadb' ? c.maria?.type : undefined) ?? c.type;
}

function valuesOf(c: Column, flavour: Flavour): Values {
  return (flavour === 'mariadb' ? c.maria?.values : undefined) ?? c.values;
}

type Step = { op: 'c' | 'u' | 'd'; before: OracleRow | null; after: OracleRow | null };

/** Column-by-column differences between what SELECT returned and what the binlog carried. */
function differences(expected: Step[], actual: Step[]): string[] {
  const out: string[] = [];
  if (expected.length !== actual.length) out.push(`row changes: ${actual.length} in the binlog, ${expected.length} expected`);
  const show = (v: unknown) => {
    const s = JSON.stringify(v);
    return s === undefined ? 'undefined' : s.length > 120 ? `${s.slice(0, 60)}…(${s.length} chars)…${s.slice(-40)}` : s;
  };
  for (let i = 0; i < Math.min(expected.length, actual.length); i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    if (e.op !== a.op) out.push(`#${i}: op ${a.op}, expected ${e.op}`);
    for (const image of ['before', 'after'] as const) {
      const er = e[image];
      const ar = a[image];
      if (er === null || ar === null) {
        if (er !== ar) out.push(`#${i} ${image}: ${show(ar)} expected ${show(er)}`);
        continue;
      }
      for (const k of new Set([...Object.keys(er), ...Object.keys(ar)])) {
        if (JSON.stringify(er[k]) !== JSON.stringify(ar[k]))
          out.push(`#${i} ${e.op} id=${String(er['id'])} ${image}.${k}: binlog ${show(ar[k])}, SELECT ${show(er[k])}`);
      }
    }
  }
  return out;
}

async function masterStatus(conn: Connection, version: string): Promise<{ file: string; pos: number }> {
  const mysql9 = /^(9|[1-9]\d)\./.test(version) && !/mariadb/i.test(version);
  const [rows] = (await conn.query(mysql9 ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS')) as unknown as [
    Array<{ File: string; Position: number | string }>,
  ];
  const r = rows[0];
  if (!r) throw new Error('binary logging is off');
  return { file: r.File, pos: Number(r.Position) };
}

/** Suffix of the copy of each column that ALTER TABLE adds. */
const ADDED = '_added';

async function runMatrix(instanceIndex: number): Promise<{ diffs: string[]; changes: number; columns: number; expectedColumns: string[] }> {
  const inst = config.instances[instanceIndex]!;
  const flavour = inst.flavour as Flavour;
  const admin = await mysql.createConnection({
    host: inst.host,
    port: inst.port,
    user: inst.user,
    password: inst.password,
    charset: 'utf8mb4_general_ci',
  });
  const oracle = await openOracle({ host: inst.host, port: inst.port, user: inst.user, password: inst.password });
  try {
    await admin.query("SET SESSION sql_mode = '', time_zone = '+00:00'");
    const [[{ v: version }]] = (await admin.query('SELECT VERSION() AS v')) as unknown as [[{ v: string }]];
    await admin.query(`DROP DATABASE IF EXISTS ${DB}`);
    await admin.query(`CREATE DATABASE ${DB} CHARACTER SET utf8mb4`);
    await admin.query(`CREATE TABLE ${DB}.ts_source (ts6 TIMESTAMP(6) NULL)`);
    await admin.query(`INSERT INTO ${DB}.ts_source VALUES ('2024-02-29 23:59:59.000500')`);
    const created = COLUMNS.filter((c) => !c.only || c.only(flavour, version));
    const ddl = created.map((c) => `${c.name} ${typeOf(c, flavour)}`).join(',\n  ');
    await admin.query(`CREATE TABLE ${DB}.${TABLE} (\n  id INT NOT NULL PRIMARY KEY,\n  ${ddl}\n) DEFAULT CHARACTER SET utf8mb4`);
    const added = created.map((c) => ({ ...c, name: `${c.name}${ADDED}` }));
    await admin.query(`ALTER TABLE ${DB}.${TABLE} ${added.map((c) => `ADD COLUMN ${c.name} ${typeOf(c, flavour)}`).join(', ')}`);
    const columns = [...created, ...added];

    const cols = columns.map((c) => c.name);
    const set = (k: 0 | 1 | 2 | 3) => columns.map((c) => `${c.name} = ${valuesOf(c, flavour)[k]}`).join(', ');
    const values = (k: 0 | 1 | 2 | 3) => columns.map((c) => valuesOf(c, flavour)[k]).join(', ');
    const select = (ids: number[]) => selectTableCanonical(oracle, `${DB}.${TABLE}`, `id IN (${ids.join(',')}) ORDER BY id`);

    const expected: Step[] = [];
    const step = async (op: Step['op'], ids: number[], sql: string, timeZone = '+00:00') => {
      const before = await select(ids);
      await admin.query(`SET time_zone = '${timeZone}'`);
      await admin.query(sql);
      await admin.query("SET time_zone = '+00:00'");
      const after = await select(ids);
      if (op === 'c') for (const r of after) expected.push({ op, before: null, after: r });
      else if (op === 'd') for (const r of before) expected.push({ op, before: r, after: null });
      else before.forEach((b, i) => expected.push({ op, before: b, after: after[i]! }));
      if (op !== 'd' && after.length !== ids.length) throw new Error(`${inst.name}: ${sql.slice(0, 80)} left ${after.length} rows`);
    };

    const start = await masterStatus(admin, version);
    await step('c', [1], `INSERT INTO ${DB}.${TABLE} (id, ${cols.join(', ')}) VALUES (1, ${values(0)})`);
    await step('c', [2], `INSERT INTO ${DB}.${TABLE} (id, ${cols.join(', ')}) VALUES (2, ${values(1)})`);
    await step('c', [3], `INSERT INTO ${DB}.${TABLE} (id) VALUES (3)`);
    // Zero TIMESTAMPs written under another session time zone stay zero.
    await step('c', [4], `INSERT INTO ${DB}.${TABLE} (id, ${cols.join(', ')}) VALUES (4, ${values(2)})`, '-07:00');
    await step('u', [1], `UPDATE ${DB}.${TABLE} SET ${set(1)} WHERE id = 1`);
    await step('u', [2], `UPDATE ${DB}.${TABLE} SET ${set(2)} WHERE id = 2`);
    // TIMESTAMP literals written at +05:30 are stored (and logged) as UTC.
    await step('u', [2], `UPDATE ${DB}.${TABLE} SET ${set(3)} WHERE id = 2`, '+05:30');
    await step('u', [3], `UPDATE ${DB}.${TABLE} SET ${set(0)} WHERE id = 3`);
    await step('u', [4], `UPDATE ${DB}.${TABLE} SET ${cols.map((c) => `${c} = NULL`).join(', ')} WHERE id = 4`);
    // One statement, several rows (and a second session zone for the TIMESTAMPs of row 4).
    await step('c', [5, 6], `INSERT INTO ${DB}.${TABLE} (id, ${cols.join(', ')}) VALUES (5, ${values(3)}), (6, ${values(0)})`, '+05:30');
    await step('d', [1, 2, 3, 4, 5, 6], `DELETE FROM ${DB}.${TABLE} WHERE id IN (1, 2, 3, 4, 5, 6)`);

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
      replicaServerId: 4200000100 + instanceIndex,
      from: start,
      untilNow: true,
    });
    const events: Array<Extract<BinlogEvent, { kind: 'rows' }>> = [];
    try {
      for await (const ev of reader.events()) {
        if (ev.kind === 'rows' && ev.table.database === DB && ev.table.table === TABLE) events.push(ev);
      }
    } finally {
      reader.close();
    }
    const actual: Step[] = events.flatMap((ev) =>
      ev.rows.map((r) => ({ op: ev.op, before: canonicalRow(r.before), after: canonicalRow(r.after) })),
    );
    const diffs = differences(expected, actual);
    // The oracle saw every column of the first row filled in (the comparison is not vacuous).
    const first = expected[0]?.after ?? {};
    const empty = Object.entries(first)
      .filter(([, v]) => v === null)
      .map(([k]) => k);
    if (empty.length > 0) diffs.push(`row 1 has NULL columns: ${empty.join(', ')}`);
    return { diffs, changes: actual.length, columns: Object.keys(first).length, expectedColumns: ['id', ...cols] };
  } finally {
    await admin.end();
    await oracle.end();
  }
}

describe('binlog column values equal SELECT, in the canonical encoding', () => {
  config.instances.forEach((inst, index) => {
    it(`${inst.name} (${inst.flavour} ${inst.dev?.version ?? ''}): every type, as created and added by ALTER, INSERT/UPDATE/DELETE images`, async () => {
      const { diffs, changes, columns, expectedColumns } = await runMatrix(index);
      expect(diffs).toEqual([]);
      expect(changes).toBe(6 + 5 + 6);
      const added = expectedColumns.filter((c) => c.endsWith(ADDED)).length;
      expect(added).toBeGreaterThanOrEqual(80);
      expect(expectedColumns.length).toBe(1 + 2 * added);
      expect(columns).toBe(expectedColumns.length);
    });

    it(`${inst.name}: the decoder's collation table names the charset the server gives every collation id`, async () => {
      const conn = await mysql.createConnection({ host: inst.host, port: inst.port, user: inst.user, password: inst.password });
      try {
        const sql =
          inst.flavour === 'mariadb'
            ? 'SELECT ID AS id, CHARACTER_SET_NAME AS cs FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY WHERE ID IS NOT NULL'
            : 'SELECT ID AS id, CHARACTER_SET_NAME AS cs FROM information_schema.COLLATIONS';
        const [rows] = (await conn.query(sql)) as unknown as [Array<{ id: number; cs: string }>];
        expect(rows.length).toBeGreaterThan(200);
        const wrong = rows
          .filter((r) => collationCharset(Number(r.id)) !== r.cs)
          .map((r) => `${r.id}: server ${r.cs}, table ${collationCharset(Number(r.id))}`);
        expect(wrong).toEqual([]);
      } finally {
        await conn.end();
      }
    });
  });
});
