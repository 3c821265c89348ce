import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MAX_CONFIG_FILE_BYTES, readBoundedFile } from '../../src/config/bounded-file.js';
import { loadClusterConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';
import { nodeTlsOptions } from '../../src/net/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'shardline-file-size-'));
const fileOf = (name: string, bytes: number) => {
  const file = path.join(dir, name);
  writeFileSync(file, Buffer.alloc(bytes, 0x61));
  return file;
};

describe('files read whole are bounded', () => {
  it('reads a file of exactly the limit, and refuses one byte more', () => {
    expect(readBoundedFile(fileOf('at-limit', 100_000), 100_000, 'test file').length).toBe(100_000);
    expect(readBoundedFile(fileOf('empty', 0), 100_000, 'test file').length).toBe(0);
    expect(() => readBoundedFile(fileOf('over-limit', 100_001), 100_000, 'test file')).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('holds more than 100000 bytes') }),
    );
  });

  it('stops reading an endless device at the limit instead of filling memory', () => {
    const before = process.memoryUsage().rss;
    expect(() => loadClusterConfig('/dev/zero')).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: `cluster config /dev/zero holds more than ${MAX_CONFIG_FILE_BYTES} bytes: is it the right file?`,
      }),
    );
    expect(process.memoryUsage().rss - before).toBeLessThan(64 << 20);
  });

  it('keeps the file system errors as they were (a missing config is CONFIG_NOT_FOUND)', () => {
    expect(() => readBoundedFile(path.join(dir, 'missing'), 10, 'test file')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => loadClusterConfig(path.join(dir, 'missing.yaml'))).toThrow(expect.objectContaining({ code: 'CONFIG_NOT_FOUND' }));
    expect(() => loadClusterConfig(dir)).toThrow(
      expect.objectContaining({ code: 'CONFIG_NOT_FOUND', message: expect.stringContaining('EISDIR') }),
    );
  });

  it('refuses a TLS file that is not a PEM file of sane size, naming the service and the field', () => {
    let thrown: unknown;
    try {
      nodeTlsOptions({ mode: 'verify-full', ca: '/dev/zero' }, 'kafka');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect(thrown).toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/^kafka: tls\.ca file \/dev\/zero holds more than \d+ bytes/),
    });
  });
});
