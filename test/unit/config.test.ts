import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../src/errors/index.js';
import { bundledClusterConfig, interpolateEnv, loadClusterConfig, parseClusterConfig, resolveConfigPath } from '../../src/config/index.js';

const bundled = () => parse(readFileSync(bundledClusterConfig, 'utf8')) as Record<string, unknown>;

function thrown(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    return err as ConfigError;
  }
  throw new Error('expected a throw');
}

describe('cluster config', () => {
  it('loads the bundled local cluster with env defaults and freezes it', () => {
    const config = loadClusterConfig(bundledClusterConfig, {});
    expect(config.instances.map((i) => [i.name, i.flavour, i.port])).toEqual([
      ['shard-0', 'mysql', 3311],
      ['shard-1', 'mysql', 3312],
      ['shard-2', 'mariadb', 3313],
      ['shard-3', 'mariadb', 3314],
      ['shard-4', 'mysql', 3315],
    ]);
    // shard-4 holds no shard: the target of `reshard move`
    expect(config.sharding.map!.ranges.map((r) => r.instance)).not.toContain('shard-4');
    expect(config.instances[0]!.password).toBe('shardline');
    expect(config.archive?.database).toBe('shardline_archive');
    expect(Object.isFrozen(config.instances[0])).toBe(true);
  });

  it('takes credentials from the environment', () => {
    const config = loadClusterConfig(bundledClusterConfig, { SHARDLINE_APP_PASSWORD: 's3cret', SHARDLINE_REPL_USER: 'cdc' });
    expect(config.instances[2]!.password).toBe('s3cret');
    expect(config.instances[2]!.replication?.user).toBe('cdc');
  });

  it('names the offending field in a validation error', () => {
    const doc = bundled();
    (doc['instances'] as Record<string, unknown>[])[1]!['port'] = 70000;
    const err = thrown(() => parseClusterConfig(doc, {}));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(/instances\.1\.port/);
  });

  it('rejects unknown keys instead of ignoring them', () => {
    const doc = bundled();
    (doc['kafka'] as Record<string, unknown>)['brokerz'] = ['x:1'];
    expect(thrown(() => parseClusterConfig(doc, {})).message).toMatch(/kafka.*brokerz/);
  });

  it('rejects duplicate names, endpoints and server ids', () => {
    const doc = bundled();
    const instances = doc['instances'] as Record<string, unknown>[];
    instances[1]!['name'] = 'shard-0';
    instances[2]!['port'] = 3311;
    instances[3]!['serverId'] = 1;
    const message = thrown(() => parseClusterConfig(doc, {})).message;
    expect(message).toMatch(/instances\.1\.name: duplicate instance name "shard-0"/);
    expect(message).toMatch(/instances\.2\.port: 127\.0\.0\.1:3311 is already used/);
    expect(message).toMatch(/instances\.3\.serverId: server id 1 is already used/);
  });

  it('reports a missing file and broken YAML with typed errors', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-config-'));
    expect(thrown(() => loadClusterConfig(path.join(dir, 'nope.yaml'))).code).toBe('CONFIG_NOT_FOUND');
    const broken = path.join(dir, 'broken.yaml');
    writeFileSync(broken, 'instances: [\n  - name: x\n');
    expect(thrown(() => loadClusterConfig(broken)).code).toBe('CONFIG_INVALID');
  });

  it('never puts a password into an error message', () => {
    const doc = bundled();
    (doc['archive'] as Record<string, unknown>)['port'] = 'not-a-port';
    const err = thrown(() => parseClusterConfig(doc, { SHARDLINE_ARCHIVE_PASSWORD: 'hunter2-very-secret' }));
    expect(err.message).not.toContain('hunter2-very-secret');
    expect(JSON.stringify(err.details)).not.toContain('hunter2-very-secret');
  });

  it('resolves the explicit file, then $SHARDLINE_CONFIG, then ./shardline.yaml — never the bundled demo by default', () => {
    expect(resolveConfigPath('/etc/x.yaml', { SHARDLINE_CONFIG: '/etc/y.yaml' })).toBe('/etc/x.yaml');
    expect(resolveConfigPath(undefined, { SHARDLINE_CONFIG: '/etc/y.yaml' })).toBe('/etc/y.yaml');
    const empty = mkdtempSync(path.join(os.tmpdir(), 'shardline-cfg-'));
    expect(thrown(() => resolveConfigPath(undefined, {}, empty)).code).toBe('CONFIG_NOT_FOUND');
    expect(thrown(() => resolveConfigPath(undefined, { SHARDLINE_CONFIG: '' }, empty)).code).toBe('CONFIG_ENV_MISSING');
    writeFileSync(path.join(empty, 'shardline.yaml'), 'instances: []\n');
    expect(resolveConfigPath(undefined, {}, empty)).toBe(path.join(empty, 'shardline.yaml'));
    expect(resolveConfigPath(bundledClusterConfig, {})).toBe(bundledClusterConfig);
    rmSync(empty, { recursive: true, force: true });
  });
});

describe('interpolateEnv', () => {
  it('replaces variables and defaults inside strings, arrays and objects', () => {
    expect(interpolateEnv({ a: 'x-${A}-y', b: ['${B:-fallback}'], c: 3 }, { A: '1' })).toEqual({ a: 'x-1-y', b: ['fallback'], c: 3 });
  });

  it('treats an empty variable like an unset one', () => {
    expect(interpolateEnv('${A:-d}', { A: '' })).toBe('d');
  });

  it('fails naming the variable and the field when there is no default', () => {
    const err = thrown(() => interpolateEnv({ kafka: { brokers: ['${BROKER}'] } }, {}));
    expect(err.code).toBe('CONFIG_ENV_MISSING');
    expect(err.message).toBe('config field kafka.brokers.0 needs environment variable BROKER, which is not set');
  });

  it('refuses a document that contains itself, and keeps an alias used twice', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shardline-config-'));
    const cyclic = path.join(dir, 'cyclic.yaml');
    writeFileSync(cyclic, 'instances: &a\n  - name: x\n    replicas: *a\n');
    const err = thrown(() => loadClusterConfig(cyclic));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(/instances\.0\.replicas contains itself/);
    writeFileSync(cyclic, 'a: &a [*a]\n');
    expect(thrown(() => loadClusterConfig(cyclic)).code).toBe('CONFIG_INVALID');
    rmSync(dir, { recursive: true, force: true });
    const shared = { user: '${U:-app}' };
    expect(interpolateEnv({ a: shared, b: [shared, shared] }, {})).toEqual({ a: { user: 'app' }, b: [{ user: 'app' }, { user: 'app' }] });
  });

  it('keeps a `__proto__` key as data: it never becomes the prototype of the copy', () => {
    const doc = JSON.parse('{"a": {"__proto__": {"polluted": "yes"}}}') as unknown;
    const out = interpolateEnv(doc, {}) as { a: Record<string, unknown> };
    expect(Object.getPrototypeOf(out.a)).toBe(Object.prototype);
    expect(out.a['polluted']).toBeUndefined();
    expect(Object.keys(out.a)).toEqual(['__proto__']);
    const withKey = { ...bundled(), ...(JSON.parse('{"__proto__": {"instances": []}}') as object) };
    expect(thrown(() => parseClusterConfig(withKey, {})).message).toMatch(/Unrecognized key: "__proto__"/);
  });
});
