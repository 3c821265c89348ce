import { Registry } from 'prom-client';
import { CdcWorker } from '../../src/cdc/worker.js';
import type { EventLog } from '../../src/cdc/kafka/event-log.js';
import { buildSinks } from '../../src/cdc/sinks/build-sinks.js';
import { ALL_SECTIONS, defineConfig, parseClusterConfig, requireSections, type ClusterConfig } from '../../src/config/index.js';
import { describeServices } from '../../src/devcluster/service-spec.js';
import { ConfigError } from '../../src/errors/index.js';
import { createLogger } from '../../src/log/logger.js';

/** What a team that only routes queries writes: shard instances, nothing for the CDC. */
const routerOnly = defineConfig({
  instances: [
    { name: 'shard-0', flavour: 'mysql', host: '10.0.0.1', port: 3306, user: 'app', password: 'pw' },
    { name: 'shard-1', flavour: 'mariadb', host: '10.0.0.2', port: 3306, user: 'app', password: 'pw' },
  ],
});

function thrown(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    return err as ConfigError;
  }
  throw new Error('expected a throw');
}

describe('router-only config', () => {
  it('validates with instances alone and fills the defaults', () => {
    const config = parseClusterConfig(routerOnly, {});
    expect(config.archive).toBeUndefined();
    expect(config.kafka).toBeUndefined();
    expect(config.elasticsearch).toBeUndefined();
    expect(config.instances[0]!.replication).toBeUndefined();
    expect(config.instances[0]!.serverId).toBeUndefined();
    expect(config.sharding.shards).toBe(1024);
    expect(config.pool.max).toBeGreaterThan(0);
  });

  it('still refuses duplicate server ids when they are given', () => {
    const doc = structuredClone(routerOnly) as { instances: Record<string, unknown>[] };
    doc.instances[0]!['serverId'] = 7;
    doc.instances[1]!['serverId'] = 7;
    expect(thrown(() => parseClusterConfig(doc, {})).message).toContain('instances.1.serverId: server id 7 is already used by instances.0');
  });
});

describe('requireSections', () => {
  const config = parseClusterConfig(routerOnly, {});

  it('names every missing section, per instance for the per-instance ones', () => {
    const err = thrown(() => requireSections(config, ALL_SECTIONS, 'the demo'));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(
      /^the demo needs the `archive` section, the `kafka` section, the `elasticsearch` section, `replication` \(the binlog account\) on instances shard-0, shard-1, `serverId` on instances shard-0, shard-1 in the cluster config/,
    );
    expect(err.details?.['fields']).toEqual([
      'archive',
      'kafka',
      'elasticsearch',
      'instances.0.replication',
      'instances.1.replication',
      'instances.0.serverId',
      'instances.1.serverId',
    ]);
  });

  it('names only what is missing and returns the same config when nothing is', () => {
    const doc = structuredClone(routerOnly) as { instances: Record<string, unknown>[]; kafka?: unknown };
    doc.instances[0]!['replication'] = { user: 'repl', password: 'r' };
    doc.kafka = { brokers: ['k:9092'] };
    const partial = parseClusterConfig(doc, {});
    expect(thrown(() => requireSections(partial, ['kafka', 'replication'], 'the CDC worker')).details?.['fields']).toEqual([
      'instances.1.replication',
    ]);
    const withKafka = requireSections(partial, ['kafka'], 'the CDC worker');
    expect(withKafka).toBe(partial);
    expect(withKafka.kafka.brokers).toEqual(['k:9092']);
  });
});

describe('commands that need a section check it', () => {
  const config: ClusterConfig = parseClusterConfig(routerOnly, {});
  const deps = { registry: new Registry(), logger: createLogger({ level: 'silent' }) };

  it('the sinks name their section', () => {
    const sinks = buildSinks(config, deps);
    expect(thrown(() => sinks.factories.elasticsearch!()).message).toContain('the Elasticsearch sink needs the `elasticsearch` section');
    expect(thrown(() => sinks.factories.archive!()).message).toContain('the archive sink needs the `archive` section');
  });

  it('a reading CDC worker needs the replication accounts before it connects anywhere', async () => {
    const worker = new CdcWorker({ config, log: {} as EventLog, ...deps, roles: new Set(['reader']), sinks: {} });
    await expect(worker.start()).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('`replication` (the binlog account) on instances shard-0, shard-1'),
    });
  });

  it('the local cluster needs the whole stack', () => {
    expect(thrown(() => describeServices(config)).message).toMatch(/^the local cluster \(shardline dev\).* needs the `archive` section/);
  });
});
