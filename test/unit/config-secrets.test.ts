import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { loadClusterConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';

const SECRET = 'Hunter2-Sup3r-Secret';

function loadError(yaml: string): ConfigError {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-config-secrets-'));
  const file = path.join(dir, 'cluster.yaml');
  writeFileSync(file, yaml);
  try {
    loadClusterConfig(file, {});
  } catch (err) {
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

function everythingShown(err: Error): string {
  return [err.message, err.stack ?? '', JSON.stringify(err), inspect(err, { depth: 10, showHidden: true })].join('\n');
}

describe('config syntax errors never echo the source', () => {
  it.each([
    ['an unclosed quote', `instances:\n  - name: shard-0\n    password: "${SECRET}\n    port: 3311\n`],
    ['a bad escape in a double-quoted password', `instances:\n  - name: shard-0\n    password: "${SECRET}\\q"\n`],
    ['a tab used for indentation', `instances:\n  - name: shard-0\n\tpassword: ${SECRET}\n`],
    ['a flow map missing its brace', `instances:\n  - name: shard-0\n    replication: { user: repl, password: ${SECRET}\n`],
    ['a duplicate key', `archive:\n  password: ${SECRET}\n  password: ${SECRET}x\n`],
    ['a value starting with a reserved character', `archive:\n  password: @${SECRET}\n`],
    ['bad indentation', `archive:\n  user: x\n    password: ${SECRET}: y\n`],
  ])('%s: line/column and key path only', (_what, yaml) => {
    const err = loadError(yaml);
    expect(everythingShown(err)).not.toContain(SECRET);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(/is not valid YAML at line \d+, column \d+/);
    expect(err.cause).toBeUndefined();
  });

  it('names the key path where the error is', () => {
    const err = loadError(`instances:\n  - name: shard-0\n    replication: { user: repl, password: "${SECRET}\\q" }\n`);
    expect(err.message).toContain('(under instances.0.replication');
    expect(err.details).toMatchObject({ line: 3, yamlCode: 'BAD_DQ_ESCAPE' });
  });
});
