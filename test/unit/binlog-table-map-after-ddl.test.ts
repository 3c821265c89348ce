/**
 * Which columns a TABLE_MAP's optional metadata counts — charsets (MySQL and MariaDB differ on
 * GEOMETRY, VECTOR) and signedness (YEAR takes a bit) — on real TABLE_MAP bytes of tables whose
 * columns were added by ALTER after such columns, and the decoder's own collation id → charset →
 * text table.
 */
import { BinlogDecoder, canonicalRow, type BinlogEvent } from '../../src/cdc/binlog/index.js';
import { TruncatedError } from '../../src/cdc/binlog/decoder/byte-reader.js';
import { collationCharset } from '../../src/cdc/binlog/decoder/collation-charsets.js';
import { parseTableMap } from '../../src/cdc/binlog/decoder/table-map.js';
import { decodeText } from '../../src/cdc/binlog/decoder/values.js';
import { loadFixture } from '../support/binlog-builders.js';

type Rows = Extract<BinlogEvent, { kind: 'rows' }>;

/** base64 of the WKB of POINT(1 2) and of the bytes the rows were written with. */
const POINT_1_2 = { srid: 0, wkb: Buffer.from('0101000000000000000000f03f0000000000000040', 'hex').toString('base64') };
const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');

/** The rows the fixtures' SQL (their `sql` field) inserted, as SELECT shows them. */
const EXPECTED: Record<string, Record<string, unknown>> = {
  t_col: { id: 1, a: 'a', l1: 'é€', u3: 'é', bn: b64('00'), e: 'é', s: 'p', j: '{}', g: POINT_1_2, extra: 'late' },
  t_def: {
    id: 1,
    a1: '1',
    a2: '2',
    a3: '3',
    a4: '4',
    a5: '5',
    a6: '6',
    l1: 'é€',
    g: POINT_1_2,
    e: 'y',
    extra: 'late',
    extra_l1: 'é€',
    extra_bin: b64('ff00'),
  },
  t_vec: { id: 1, v: b64('0000803f00000040'), a: 'é€', b: 'é€' },
  t_num: { id: 1, y: 2024, u: 255, bt: '5', s: -1, su: 255, sb: '-1', sbu: '18446744073709551615' },
};

function decodeFixture(name: string): Rows[] {
  const f = loadFixture(name);
  const decoder = new BinlogDecoder({ file: f.file, checksum: 'none' });
  decoder.decode(f.fde);
  return f.events.flatMap((raw) => [...decoder.decodeAll(raw)]).filter((e): e is Rows => e.kind === 'rows');
}

describe('TABLE_MAP metadata of columns added by ALTER after GEOMETRY, VECTOR and YEAR (real bytes)', () => {
  it.each([
    ['mariadb-table-map-after-ddl', ['t_col', 't_def', 't_num']],
    ['mysql80-table-map-after-ddl', ['t_col', 't_def', 't_num']],
    ['mysql97-table-map-after-ddl', ['t_col', 't_def', 't_vec', 't_num']],
  ])('%s: every column decodes to what SELECT returned', (name, tables) => {
    const rows = decodeFixture(name);
    expect(rows.map((r) => r.table.table)).toEqual(tables);
    for (const r of rows) expect(canonicalRow(r.rows[0]!.after)).toEqual(EXPECTED[r.table.table]);
  });

  it('MariaDB counts GEOMETRY among the character columns (COLUMN_CHARSET and DEFAULT_CHARSET indexes), MySQL does not', () => {
    const maria = decodeFixture('mariadb-table-map-after-ddl');
    const mysql = decodeFixture('mysql80-table-map-after-ddl');
    const collations = (r: Rows) => Object.fromEntries(r.table.columns.map((c) => [c.name, c.collation]));
    expect(collations(maria[0]!)).toMatchObject({ a: 45, l1: 8, u3: 33, bn: 63, j: 46, g: 63, extra: 45, e: 8, s: 45 });
    expect(collations(maria[1]!)).toMatchObject({ l1: 8, g: 63, extra: 45, extra_l1: 8, extra_bin: 63 });
    expect(collations(mysql[0]!)).toMatchObject({ a: 255, l1: 8, u3: 33, bn: 63, extra: 255, e: 8, s: 255, g: 0, j: 0 });
    expect(collations(mysql[1]!)).toMatchObject({ l1: 8, g: 0, extra: 255, extra_l1: 8, extra_bin: 63 });
  });

  it('MySQL 9 counts VECTOR among the character columns', () => {
    const vec = decodeFixture('mysql97-table-map-after-ddl')[2]!;
    expect(Object.fromEntries(vec.table.columns.map((c) => [c.name, c.collation]))).toEqual({ id: 0, v: 63, a: 8, b: 255 });
  });

  it.each(['mariadb', 'mysql80', 'mysql97'])('%s: YEAR takes a SIGNEDNESS bit (set), the BIT column none', (server) => {
    const num = decodeFixture(`${server}-table-map-after-ddl`).find((r) => r.table.table === 't_num')!;
    expect(num.table.columns.map((c) => [c.name, c.unsigned])).toEqual([
      ['id', false],
      ['y', true],
      ['u', true],
      ['bt', false],
      ['s', false],
      ['su', true],
      ['sb', false],
      ['sbu', true],
    ]);
  });

  it("read with the other flavour's rule, the charset list does not fit the columns: refused, never shifted", () => {
    const tableMapBody = (name: string, table: string) => {
      const raw = loadFixture(name).events.find((e) => e[4] === 19 && e.includes(Buffer.from(table)))!;
      return raw.subarray(19, raw.length - 4);
    };
    // COLUMN_CHARSET with one entry per MariaDB character column: one more than MySQL's rule counts.
    expect(() => parseTableMap(tableMapBody('mariadb-table-map-after-ddl', 't_col'), 8, 'mysql')).toThrow(TruncatedError);
    // DEFAULT_CHARSET whose last exception names the 11th MariaDB character column.
    expect(() => parseTableMap(tableMapBody('mariadb-table-map-after-ddl', 't_def'), 8, 'mysql')).toThrow(
      /names column 10 of 10 character columns/,
    );
    expect(() => parseTableMap(tableMapBody('mysql80-table-map-after-ddl', 't_col'), 8, 'mariadb')).toThrow(TruncatedError);
    const ok = parseTableMap(tableMapBody('mariadb-table-map-after-ddl', 't_col'), 8, 'mariadb');
    expect(ok.columns.find((c) => c.name === 'extra')!.collation).toBe(45);
  });
});

describe("the decoder's collation table", () => {
  // Ids and charsets as the MySQL and MariaDB manuals list them (SHOW COLLATION).
  it.each([
    [1, 'big5'],
    [8, 'latin1'],
    [28, 'gbk'],
    [33, 'utf8mb3'],
    [35, 'ucs2'],
    [45, 'utf8mb4'],
    [46, 'utf8mb4'],
    [47, 'latin1'],
    [54, 'utf16'],
    [56, 'utf16le'],
    [60, 'utf32'],
    [63, 'binary'],
    [83, 'utf8mb3'],
    [95, 'cp932'],
    [97, 'eucjpms'],
    [192, 'utf8mb3'],
    [224, 'utf8mb4'],
    [246, 'utf8mb4'],
    [248, 'gb18030'],
    [255, 'utf8mb4'],
    [309, 'utf8mb4'],
    [323, 'utf8mb4'],
    [2048, 'utf8mb3'],
    [2304, 'utf8mb4'],
    [2560, 'ucs2'],
    [2816, 'utf16'],
    [3072, 'utf32'],
  ])('collation %i is %s', (id, charset) => {
    expect(collationCharset(id)).toBe(charset);
  });

  it('knows no charset for ids no server uses', () => {
    for (const id of [0, 17, 4000, -1, 1.5]) expect(collationCharset(id)).toBeUndefined();
    expect(() => decodeText(Buffer.from('x'), 4000, 'c')).toThrow(/unknown collation 4000 for column c/);
  });

  // Bytes of each text in the charset, from the charsets' code tables.
  it.each([
    [7, 'f0d2c9d7c5d4', 'Привет'],
    [51, 'cff0e8e2e5f2', 'Привет'],
    [9, 'f5', 'ő'],
    [25, 'e1', 'α'],
    [16, 'e0', 'א'],
    [13, '82a0', 'あ'],
    [95, '82a0', 'あ'],
    [28, 'd6d0', '中'],
    [248, 'd6d0', '中'],
    [35, '00e920ac', 'é€'],
    [54, 'd83dde00', '😀'],
    [56, '3dd800de', '😀'],
    [60, '0001f600000000e9', '😀é'],
    [3072, '0001f600', '😀'],
    [8, '80819f41', '€\u0081ŸA'],
    [2304, 'f09f9880', '😀'],
    [11, '41', 'A'],
  ])('collation %i decodes %s as %s', (id, hex, text) => {
    expect(decodeText(Buffer.from(hex, 'hex'), id)).toBe(text);
  });

  it('refuses charsets Node cannot decode instead of guessing (macce is not Mac Roman)', () => {
    for (const [id, cs] of [
      [38, 'macce'],
      [32, 'armscii8'],
      [4, 'cp850'],
    ] as const) {
      expect(() => decodeText(Buffer.from('41', 'hex'), id, 'c')).toThrow(`no decoder for charset ${cs} (collation ${id}) for column c`);
    }
  });
});
