import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { countWarnings } from '../../src/cli/demo-cdc.js';

describe("the demo's count of its worker's log lines", () => {
  it('counts warnings and errors apart, from a byte offset on, and ignores lines that are not JSON log lines', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'shardline-demo-log-')), 'worker.log');
    const earlier = '{"level":50,"msg":"an earlier run"}\n';
    writeFileSync(
      file,
      earlier +
        [
          '{"level":30,"msg":"info"}',
          '{"level":40,"msg":"coordinator loading"}',
          '{"level":40,"msg":"again"}',
          '{"level":50,"msg":"failed"}',
          '{"level":60,"msg":"fatal"}',
          'not json {"level":50}',
          '',
        ].join('\n'),
    );
    expect(countWarnings(file, Buffer.byteLength(earlier))).toEqual({ warnings: 2, errors: 2 });
    expect(countWarnings(file)).toEqual({ warnings: 2, errors: 3 });
    expect(countWarnings(path.join(path.dirname(file), 'missing.log'))).toEqual({ warnings: 0, errors: 0 });
  });
});
