import { decodeDecimal, decodeJsonBinary, BinlogDecoder } from '../../src/cdc/binlog/index.js';

describe('binary DECIMAL', () => {
  it.each([
    // MySQL's documented example: DECIMAL(14,4) 1234567890.1234 (the bytes MySQL 8.0.31 logs for it)
    ['810DFB38D204D2', 14, 4, '1234567890.1234'],
    ['7EF204C72DFB2D', 14, 4, '-1234567890.1234'],
  ])('%s as DECIMAL(%d,%d) is %s', (hex, p, s, text) => {
    expect(decodeDecimal(Buffer.from(hex, 'hex'), 0, p, s)).toBe(text);
  });

  it('refuses a truncated value with a typed error, not a crash', () => {
    expect(() => decodeDecimal(Buffer.from('81', 'hex'), 0, 14, 4)).toThrow('DECIMAL value truncated');
  });
});

describe('MySQL binary JSON', () => {
  it('decodes objects, arrays, literals and numbers in MySQL text form', () => {
    // {"a": 1, "b": [true, null]} as MySQL 8.0.31 logs it (captured from a rows event)
    const doc = Buffer.from('0002001e001200010013000100050100021400616202000a00040100040000', 'hex');
    expect(decodeJsonBinary(doc)).toBe('{"a": 1, "b": [true, null]}');
    expect(decodeJsonBinary(Buffer.alloc(0))).toBe('null');
    expect(decodeJsonBinary(Buffer.from([0x04, 0x01]))).toBe('true');
    expect(decodeJsonBinary(Buffer.from([0x05, 0xff, 0xff]))).toBe('-1');
    expect(decodeJsonBinary(Buffer.from([0x0c, 0x02, 0x68, 0x69]))).toBe('"hi"');
  });

  it('refuses an offset pointing outside the value', () => {
    expect(() => decodeJsonBinary(Buffer.from([0x02, 0x01, 0x00, 0xff, 0x7f]))).toThrow();
  });
});

describe('decoder: bad input', () => {
  it('refuses an unknown event type naming file and position', () => {
    const decoder = new BinlogDecoder({ file: 'binlog.000009', checksum: 'none' });
    const ev = Buffer.alloc(19);
    ev[4] = 99;
    ev.writeUInt32LE(19, 9);
    ev.writeUInt32LE(1019, 13);
    expect(() => decoder.decode(ev)).toThrow(/event type 99 .* refusing to skip it \(at binlog\.000009:1000\)/);
  });
});

describe('binlog dump output', () => {
  it('redacts passwords of account statements found in the binlog', async () => {
    const { redactSecrets } = await import('../../src/cli/binlog-command.js');
    expect(redactSecrets("ALTER USER 'app'@'%' IDENTIFIED BY 's3cret'")).toBe("ALTER USER 'app'@'%' IDENTIFIED BY '<redacted>'");
    expect(redactSecrets("CREATE USER x IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$xyz'")).toBe(
      "CREATE USER x IDENTIFIED WITH 'caching_sha2_password' AS '<redacted>'",
    );
    expect(redactSecrets('UPDATE t SET a = 1')).toBe('UPDATE t SET a = 1');
  });
});
