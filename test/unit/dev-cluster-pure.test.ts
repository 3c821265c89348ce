import net from 'node:net';
import { loadClusterConfig, bundledClusterConfig } from '../../src/config/index.js';
import { describeServices, findPortHolder, formatStatusTable, normaliseVersion } from '../../src/devcluster/index.js';
import { processStartTime } from '../../src/devcluster/process-table.js';
import { ShardlineError, isShardlineError, DevClusterError } from '../../src/errors/index.js';

describe('describeServices', () => {
  it('derives twelve services (a read replica per shard instance that owns shards) with kinds, roles and ports from the config', () => {
    const specs = describeServices(loadClusterConfig(bundledClusterConfig, {}));
    expect(specs.map((s) => `${s.name}:${s.kind}:${s.role}:${s.port}`)).toEqual([
      'shard-0:mysql:shard:3311',
      'shard-1:mysql:shard:3312',
      'shard-2:mariadb:shard:3313',
      'shard-3:mariadb:shard:3314',
      'shard-4:mysql:shard:3315',
      'shard-0-replica:mysql:replica:3411',
      'shard-1-replica:mysql:replica:3412',
      'shard-2-replica:mariadb:replica:3413',
      'shard-3-replica:mariadb:replica:3414',
      'archive:mysql:archive:3320',
      'kafka:kafka:kafka:9092',
      'elasticsearch:elasticsearch:search:9200',
    ]);
    expect(specs.find((s) => s.name === 'kafka')!.extraPorts).toEqual([9093]);
    expect(specs.find((s) => s.name === 'elasticsearch')!.url).toBe('http://127.0.0.1:9200');
    expect(specs.find((s) => s.name === 'shard-1')!.plannedVersion).toBe('9.7');
  });
});

describe('status formatting', () => {
  it('normalises server version strings', () => {
    expect(normaliseVersion('10.11.19-MariaDB-0+deb12u1')).toBe('10.11.19');
    expect(normaliseVersion('9.7.4-2')).toBe('9.7.4');
    expect(normaliseVersion('8.0')).toBe('8.0');
    expect(normaliseVersion('weird')).toBe('weird');
  });

  it('prints an aligned table', () => {
    const table = formatStatusTable([
      { name: 'a', kind: 'mysql', role: 'shard', version: '8.0.31', host: 'h', port: 1, healthy: true, pid: 42, replica_of: null },
      {
        name: 'elasticsearch',
        kind: 'elasticsearch',
        role: 'search',
        version: '8.19.21',
        host: 'h',
        port: 9200,
        healthy: false,
        pid: null,
        replica_of: null,
      },
    ]).split('\n');
    expect(table[0]).toMatch(/^NAME\s+KIND\s+ROLE\s+VERSION\s+ADDRESS\s+HEALTHY\s+PID$/);
    expect(table[1]).toMatch(/^a\s+mysql\s+shard\s+8\.0\.31\s+h:1\s+yes\s+42$/);
    expect(table[2]).toMatch(/NO\s+-$/);
    expect(table[1]!.indexOf('mysql')).toBe(table[2]!.indexOf('elasticsearch', 5));
  });

  it('adds a REPLICA_OF column when the cluster has read replicas', () => {
    const table = formatStatusTable([
      { name: 'shard-0', kind: 'mysql', role: 'shard', version: '8.0.31', host: 'h', port: 3311, healthy: true, pid: 1, replica_of: null },
      {
        name: 'shard-0-replica',
        kind: 'mysql',
        role: 'replica',
        version: '8.0.31',
        host: 'h',
        port: 3411,
        healthy: true,
        pid: 2,
        replica_of: 'shard-0',
      },
    ]).split('\n');
    expect(table[0]).toMatch(/^NAME\s+KIND\s+ROLE\s+VERSION\s+ADDRESS\s+HEALTHY\s+PID\s+REPLICA_OF$/);
    expect(table[1]).toMatch(/\s1\s+-$/);
    expect(table[2]).toMatch(/^shard-0-replica\s+mysql\s+replica\s+.*\s2\s+shard-0$/);
  });
});

describe('findPortHolder', () => {
  it('finds this process as the holder of a port it listens on, and nobody on a closed one', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    try {
      expect(findPortHolder(port)).toEqual({ pid: process.pid, command: expect.any(String) });
    } finally {
      await new Promise((r) => server.close(r));
    }
    expect(findPortHolder(port)).toBeNull();
  });

  it('reads a stable start time for a live process and null for a dead one', () => {
    expect(processStartTime(process.pid)).toMatch(/^\d+$/);
    expect(processStartTime(process.pid)).toBe(processStartTime(process.pid));
    expect(processStartTime(2 ** 22 + 1)).toBeNull();
  });
});

describe('ShardlineError', () => {
  it('carries code, retriable, details and cause', () => {
    const cause = new Error('root cause');
    const err = new DevClusterError('DEV_PORT_IN_USE', 'port 1 busy', { retriable: true, cause, details: { port: 1 } });
    expect(err).toBeInstanceOf(ShardlineError);
    expect(err.name).toBe('DevClusterError');
    expect(err.code).toBe('DEV_PORT_IN_USE');
    expect(err.retriable).toBe(true);
    expect(err.cause).toBe(cause);
    expect(err.details).toEqual({ port: 1 });
    expect(Object.isFrozen(err.details)).toBe(true);
    expect(isShardlineError(err)).toBe(true);
    expect(isShardlineError(new Error('x'))).toBe(false);
  });
});
