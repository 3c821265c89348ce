/**
 * Value decoders against vectors captured from real servers: the value bytes of a rows event
 * (MySQL 8.0.31 unless noted; MariaDB 10.11 logs the same bytes for the temporal and DECIMAL
 * vectors) and the text SELECT printed for the same row (TIMESTAMPs under time_zone '+00:00').
 */
import { decodeDecimal } from '../../src/cdc/binlog/decoder/decimal-binary.js';
import { decodeJsonBinary, formatJsonDouble } from '../../src/cdc/binlog/decoder/json-binary.js';
import { decodeDatetime2, decodeTime2, formatTimestamp, readTimestamp2 } from '../../src/cdc/binlog/decoder/temporal.js';
import { decodeText } from '../../src/cdc/binlog/decoder/values.js';

const hex = (h: string) => Buffer.from(h, 'hex');

describe('TIME2 (negative values store the fraction inverted)', () => {
  it.each([
    ['TIME(6)', 6, '7fffffffffff', '-00:00:00.000001'],
    ['TIME(6)', 6, '4b9105000000', '-838:59:59.000000'],
    ['TIME(6)', 6, '7ffffef0bdc1', '-00:00:01.999999'],
    ['TIME(6)', 6, '80c8b80001f4', '12:34:56.000500'],
    ['TIME(1)', 1, '7ffffff6', '-00:00:00.1'],
    ['TIME(1)', 1, '7f3747ce', '-12:34:56.5'],
    ['TIME(2)', 2, '7fffffff', '-00:00:00.01'],
    ['TIME(2)', 2, '7fefffce', '-01:00:00.50'],
    ['TIME(3)', 3, '7f3747e12e', '-12:34:56.789'],
    ['TIME(3)', 3, '7fffffd8fa', '-00:00:00.999'],
    ['TIME(4)', 4, '79bfffec78', '-100:00:00.5000'],
    ['TIME(4)', 4, '7fffffffff', '-00:00:00.0001'],
    ['TIME(5)', 5, '4b9105f0bdca', '-838:59:58.99999'],
    ['TIME(5)', 5, '7ffffffffff6', '-00:00:00.00001'],
    ['TIME', 0, '4b9105', '-838:59:59'],
    ['TIME', 0, '7fffff', '-00:00:01'],
    ['TIME', 0, 'b46efb', '838:59:59'],
  ] as const)('%s fsp %d: %s is %s', (_type, fsp, bytes, text) => {
    expect(decodeTime2(hex(bytes), 0, fsp)).toBe(text);
  });
});

describe('DATETIME2 (fractions exact to the microsecond, zero dates)', () => {
  it.each([
    ['DATETIME(6)', 6, '99b2bb7efb0001f4', '2024-02-29 23:59:59.000500'],
    ['DATETIME(6)', 6, 'fef3ff7efb0f423f', '9999-12-31 23:59:59.999999'],
    ['DATETIME(6)', 6, '8000000000000000', '0000-00-00 00:00:00.000000'],
    ['DATETIME(6)', 6, '8cb2420000000001', '1000-01-01 00:00:00.000001'],
    ['DATETIME(1)', 1, '8cb24200000a', '1000-01-01 00:00:00.1'],
    ['DATETIME(1)', 1, '99b2bb7efb32', '2024-02-29 23:59:59.5'],
    ['DATETIME(2)', 2, 'fef3ff7efb63', '9999-12-31 23:59:59.99'],
    ['DATETIME(3)', 3, '99b2bb7efb1388', '2024-02-29 23:59:59.500'],
    ['DATETIME(4)', 4, 'fef3ff7efb270f', '9999-12-31 23:59:59.9999'],
    ['DATETIME(5)', 5, 'fef3ff7efb0f4236', '9999-12-31 23:59:59.99999'],
    ['DATETIME', 0, '99b2000000', '2024-00-00 00:00:00'],
    ['DATETIME', 0, '8000000000', '0000-00-00 00:00:00'],
  ] as const)('%s fsp %d: %s is %s', (_type, fsp, bytes, text) => {
    expect(decodeDatetime2(hex(bytes), 0, fsp)).toBe(text);
  });
});

describe('TIMESTAMP2 (UTC epoch seconds + fraction)', () => {
  it.each([
    ['TIMESTAMP(6) NULL', 6, '7fffffff0f423f', '2038-01-19 03:14:07.999999'],
    ['TIMESTAMP(6) NULL', 6, '00000001000001', '1970-01-01 00:00:01.000001'],
    ['TIMESTAMP(6) NULL', 6, '00000000000000', '0000-00-00 00:00:00.000000'],
    ['TIMESTAMP(3) NULL', 3, '65e11a7f0032', '2024-02-29 23:59:59.005'],
    ['TIMESTAMP(1) NULL', 1, '65e11a7f32', '2024-02-29 23:59:59.5'],
  ] as const)('%s fsp %d: %s is %s', (_type, fsp, bytes, text) => {
    const { seconds, micros } = readTimestamp2(hex(bytes), 0, fsp);
    expect(formatTimestamp(seconds, micros, fsp)).toBe(text);
  });
});

describe('binary DECIMAL', () => {
  it.each([
    [
      '7f439eb1ca484078caf1cb3fd0f8a086f8a432eaff439eb1ca484078fc85',
      65,
      30,
      '-12345678901234567890123456789012345.123456789012345678901234567890',
    ],
    ['7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe', 65, 30, '-0.000000000000000000000000000001'],
    ['7ffffffefe0b', 10, 3, '-1.500'],
    ['8098967f03e7', 10, 3, '9999999.999'],
    ['7ffffffffffe', 10, 3, '-0.001'],
    ['7e7960', 5, 0, '-99999'],
    ['800000', 5, 0, '0'],
    ['7f84', 3, 3, '-0.123'],
    ['78a432eaf8a432ea', 18, 9, '-123456789.123456789'],
    ['810dfb38d204d2', 14, 4, '1234567890.1234'],
    ['7ef204c72dfb2d', 14, 4, '-1234567890.1234'],
  ] as const)('%s as DECIMAL(%d,%d) is %s', (bytes, precision, scale, text) => {
    expect(decodeDecimal(hex(bytes), 0, precision, scale)).toBe(text);
  });
});

describe('MySQL binary JSON (the column value without its 4-byte length)', () => {
  it.each([
    ['0002001e001200010013000100050100021400616202000a00040100040000', '{"a": 1, "b": [true, null]}'],
    [
      '0005006b0027000200290003002c00040030000400340005000f39000f43000f4d000f57000f610064746465636461746574696d6574696d65300c08f40100fb7ebbb219f6080c037ffffffefe0b0a080000000000bab2190b08ffffffffffffffff0b080000000591d8ffff',
      '{"dt": "2024-02-29 23:59:59.000500", "dec": -1.500, "date": "2024-02-29", "time": "-00:00:00.000001", "time0": "-630:59:59.000000"}',
    ],
    [
      '02070051000b19000b21000b29000b31000b39000b41000b4900408cb5781daf1544000000000000008076830df4f521843e000000000000f03f1f85eb51b81e094000003426f56b0c4366de77832112dc42',
      '[1e20, -0.0, 0.00000015, 1.0, 3.14, 1e15, 123456789012345.6]',
    ],
    [
      '0207003900071900071d000921000a290009310005ff7f050080ff7fffff000001000000000001000000ffffffffffffffff0000000000000080',
      '[-32769, 65536, 4294967296, 18446744073709551615, -9223372036854775808, 32767, -32768]',
    ],
    ['02010017000c07000f71225c20010a20c3a9f09f9880202f', '["q\\"\\\\ \\u0001\\n é😀 /"]'],
    ['02020011000f0a000f0e000f0200ff0f0105', '["base64:type15:AP8=", "base64:type15:BQ=="]'],
    ['0400', 'null'],
    ['0c026869', '"hi"'],
    ['0000000400', '{}'],
  ])('%s is %s', (bytes, text) => {
    expect(decodeJsonBinary(hex(bytes))).toBe(text);
  });

  it('decodes what MySQL 9.7 logs for TIME -838:59:59 in a document (8.0.31 stores it as -630:59:59 and prints that)', () => {
    expect(
      decodeJsonBinary(
        hex(
          '0005006b0027000200290003002c00040030000400340005000f39000f43000f4d000f57000f610064746465636461746574696d6574696d65300c08f40100fb7ebbb219f6080c037ffffffefe0b0a080000000000bab2190b08ffffffffffffffff0b080000000591cbffff',
        ),
      ),
    ).toBe(
      '{"dt": "2024-02-29 23:59:59.000500", "dec": -1.500, "date": "2024-02-29", "time": "-00:00:00.000001", "time0": "-838:59:59.000000"}',
    );
  });

  it.each([
    // Checked against SELECT CAST('[…]' AS JSON) on MySQL 8.0.31.
    [1e20, '1e20'],
    [-0, '-0.0'],
    [1.5e-7, '0.00000015'],
    [1, '1.0'],
    [3.14, '3.14'],
    [1e15, '1e15'],
    [123456789012345.6, '123456789012345.6'],
    [1234567890123456, '1.234567890123456e15'],
    [1.2345678901234568e17, '1.2345678901234568e17'],
    [5e-324, '5e-324'],
    [1e-15, '0.000000000000001'],
    [1e-16, '1e-16'],
    [1.5e-15, '0.0000000000000015'],
    [0.0001, '0.0001'],
    [-2.5e-300, '-2.5e-300'],
  ] as const)('prints the double %p as MySQL does: %s', (v, text) => {
    expect(formatJsonDouble(v)).toBe(text);
  });
});

describe("latin1 is MySQL's cp1252", () => {
  it('decodes 0x80-0x9F as cp1252 (0x80 is €, the five undefined bytes are C1 controls)', () => {
    expect(decodeText(hex('e9808c9f'), 8)).toBe('é€Œ\u0178');
    expect(decodeText(hex('818d8f909d'), 8)).toBe('\u0081\u008d\u008f\u0090\u009d');
    expect(decodeText(hex('c3a9'), 45)).toBe('é');
  });
});
