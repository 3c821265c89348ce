import { bundledClusterConfig, loadClusterConfig, type ClusterConfig } from '../../src/config/index.js';
import { describeServices } from '../../src/devcluster/index.js';
import { readReplicaFlags, replicationFlags } from '../../src/devcluster/local/mysql-family.js';
import { changeSourceStatement, ensureReplication, parseReplicaStatus, replicationHealth } from '../../src/devcluster/replica-setup.js';
import type { MysqlSession } from '../../src/net/index.js';
import { defaultReplicaServerId, type ServiceSpec } from '../../src/devcluster/service-spec.js';

const config = loadClusterConfig(bundledClusterConfig, {});
const specs = describeServices(config);
const spec = (name: string): ServiceSpec => specs.find((s) => s.name === name)!;

/** The bundled config with the instances changed by `edit`. */
function withInstances(edit: (inst: ClusterConfig['instances'][number], i: number) => ClusterConfig['instances'][number]): ClusterConfig {
  return { ...config, instances: config.instances.map(edit) };
}

describe('replica service specs', () => {
  it('one replica per shard instance: the primary flavour, version, accounts and TLS, its own address, server id and RSA key', () => {
    for (const inst of config.instances.filter((i) => i.name !== 'shard-4')) {
      const [r] = inst.replicas!;
      const s = spec(r!.name);
      const primary = spec(inst.name);
      expect(s).toMatchObject({
        role: 'replica',
        kind: inst.flavour,
        plannedVersion: primary.plannedVersion,
        host: r!.host,
        port: r!.port,
        replicaOf: { name: inst.name, host: inst.host, port: inst.port },
      });
      expect(s.sql).toEqual({
        user: inst.user,
        password: inst.password,
        serverId: r!.serverId,
        replication: inst.replication,
        security: { name: r!.name, tls: inst.tls, serverPublicKey: r!.serverPublicKey },
      });
    }
    expect(spec('shard-1-replica').plannedVersion).toBe('9.7');
    expect(specs.map((s) => s.sql?.serverId).filter((id) => id !== undefined)).toEqual([1, 2, 3, 4, 5, 11, 12, 13, 14, 20]);
    expect(specs.filter((s) => !s.replicaOf).every((s) => s.role !== 'replica')).toBe(true);
  });

  it("a replica's own dev.version wins; without a serverId it gets one out of the config's range", () => {
    const edited = describeServices(
      withInstances((inst, i) =>
        i === 0 ? { ...inst, replicas: [{ ...inst.replicas![0]!, serverId: undefined, dev: { version: '8.4' } }] } : inst,
      ),
    );
    const r = edited.find((s) => s.name === 'shard-0-replica')!;
    expect(r.plannedVersion).toBe('8.4');
    expect(r.sql!.serverId).toBe(defaultReplicaServerId(0, 0));
    expect(defaultReplicaServerId(1, 2)).toBe(10_034);
  });

  it('an instance without a replication account (replicas log in with it) is refused with what to add', () => {
    expect(() => describeServices(withInstances((inst, i) => (i === 2 ? { ...inst, replication: undefined } : inst)))).toThrow(
      /needs `replication` .* on instance shard-2/,
    );
  });

  it('a config without replicas has none', () => {
    const none = describeServices(withInstances((inst) => ({ ...inst, replicas: undefined })));
    expect(none.some((s) => s.role === 'replica')).toBe(false);
    expect(none).toHaveLength(8);
  });
});

describe('replica server flags', () => {
  it('MySQL: binlog and GTID like a shard, plus its updates logged, super_read_only and relay logs in the datadir', () => {
    const flags = replicationFlags(spec('shard-0-replica'), '/d');
    expect(flags).toEqual(
      expect.arrayContaining([
        '--server-id=11',
        '--log-bin=/d/binlog',
        '--binlog-format=ROW',
        '--binlog-row-image=FULL',
        '--gtid-mode=ON',
        '--enforce-gtid-consistency=ON',
        '--log-replica-updates=ON',
        '--read-only=ON',
        '--super-read-only=ON',
        '--relay-log=/d/relay',
      ]),
    );
  });

  it('MariaDB: strict GTID, log_slave_updates and read_only (no super_read_only there)', () => {
    const flags = replicationFlags(spec('shard-2-replica'), '/d');
    expect(flags).toEqual(expect.arrayContaining(['--server-id=13', '--gtid-strict-mode=ON', '--log-slave-updates=ON', '--read-only=ON']));
    expect(flags.some((f) => f.includes('super-read-only'))).toBe(false);
  });

  it('a shard gets none of the replica flags', () => {
    const flags = replicationFlags(spec('shard-0'), '/d');
    for (const f of readReplicaFlags(spec('shard-0-replica'), '/d')) expect(flags).not.toContain(f);
  });
});

describe('CHANGE … SOURCE/MASTER TO', () => {
  it('MySQL: GTID auto-positioning with the replication account and the primary RSA key from its datadir', () => {
    const st = changeSourceStatement(spec('shard-0-replica'), { primaryPublicKeyPath: '/state/data/shard-0/public_key.pem' });
    expect(st.sql).toBe(
      'CHANGE REPLICATION SOURCE TO SOURCE_HOST=?, SOURCE_PORT=?, SOURCE_USER=?, SOURCE_PASSWORD=?, SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=2, SOURCE_PUBLIC_KEY_PATH=?',
    );
    expect(st.values).toEqual(['127.0.0.1', 3311, 'shardline_repl', 'shardline', '/state/data/shard-0/public_key.pem']);
  });

  it('MySQL: the key fetched from the source only without a key file; TLS with the dev CA instead of a key', () => {
    expect(changeSourceStatement(spec('shard-1-replica')).sql).toMatch(/, GET_SOURCE_PUBLIC_KEY=1$/);
    const tls = { ca: '/ca.pem', cert: '/c.pem', key: '/k.pem', keystore: '/ks.pem' };
    const st = changeSourceStatement({ ...spec('shard-1-replica'), tls }, { primaryPublicKeyPath: '/k' });
    expect(st.sql).toMatch(/, SOURCE_SSL=1, SOURCE_SSL_CA=\?$/);
    expect(st.values).toEqual(['127.0.0.1', 3312, 'shardline_repl', 'shardline', '/ca.pem']);
  });

  it('MariaDB: master_use_gtid=slave_pos', () => {
    const st = changeSourceStatement(spec('shard-3-replica'));
    expect(st.sql).toBe(
      'CHANGE MASTER TO MASTER_HOST=?, MASTER_PORT=?, MASTER_USER=?, MASTER_PASSWORD=?, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=2',
    );
    expect(st.values).toEqual(['127.0.0.1', 3314, 'shardline_repl', 'shardline']);
  });

  it('refuses a service that is not a replica', () => {
    expect(() => changeSourceStatement(spec('shard-0'))).toThrow(/shard-0: not a replica/);
  });
});

describe('SHOW REPLICA STATUS', () => {
  it('reads MySQL and MariaDB column names alike', () => {
    const mysql = parseReplicaStatus({
      Source_Host: '127.0.0.1',
      Source_Port: 3311,
      Replica_IO_Running: 'Yes',
      Replica_SQL_Running: 'Yes',
      Last_IO_Error: '',
      Last_SQL_Error: '',
      Seconds_Behind_Source: 0,
    });
    const mariadb = parseReplicaStatus({
      Master_Host: '127.0.0.1',
      Master_Port: 3313,
      Slave_IO_Running: 'Yes',
      Slave_SQL_Running: 'Yes',
      Last_IO_Error: '',
      Last_SQL_Error: '',
      Seconds_Behind_Master: 3,
    });
    expect(mysql).toMatchObject({ configured: true, sourcePort: 3311, ioRunning: 'Yes', sqlRunning: 'Yes', secondsBehind: 0 });
    expect(mariadb).toMatchObject({ configured: true, sourcePort: 3313, ioRunning: 'Yes', sqlRunning: 'Yes', secondsBehind: 3 });
    expect(replicationHealth(mysql)).toEqual({ healthy: true });
    expect(replicationHealth(mariadb)).toEqual({ healthy: true });
  });

  it('no row: not configured', () => {
    const none = parseReplicaStatus(undefined);
    expect(none.configured).toBe(false);
    expect(replicationHealth(none)).toEqual({ healthy: false, reason: 'replication is not configured (no source)' });
  });

  it('a stopped thread is unhealthy, with the server errors in the reason', () => {
    const broken = parseReplicaStatus({
      Master_Host: '127.0.0.1',
      Master_Port: 3313,
      Slave_IO_Running: 'Connecting',
      Slave_SQL_Running: 'No',
      Last_IO_Error: "error connecting to master 'shardline_repl@127.0.0.1:3313'",
      Last_SQL_Error: 'out-of-order sequence number',
      Seconds_Behind_Master: null,
    });
    const h = replicationHealth(broken);
    expect(h.healthy).toBe(false);
    expect(h.reason).toBe(
      "replication from 127.0.0.1:3313 is not running (IO thread Connecting, SQL thread No); Last_IO_Error: error connecting to master 'shardline_repl@127.0.0.1:3313'; Last_SQL_Error: out-of-order sequence number",
    );
    expect(broken.secondsBehind).toBeNull();
  });
});

/** A session that answers by the first pattern matching the statement, and records what it ran. */
function fakeSession(answers: [RegExp, Record<string, unknown>[]][]): MysqlSession & { ran: string[] } {
  const ran: string[] = [];
  return {
    ran,
    query: <T>(sql: string) => {
      ran.push(sql);
      const hit = answers.find(([re]) => re.test(sql));
      return Promise.resolve((hit ? hit[1] : []) as T[]);
    },
    close: () => Promise.resolve(),
  };
}

describe('ensureReplication', () => {
  const dirs = { primaryDataDir: '/s/data/shard-0', replicaDataDir: '/s/data/shard-0-replica' };

  it('a fresh MySQL replica: CHANGE REPLICATION SOURCE then START REPLICA, nothing else written', async () => {
    const replica = fakeSession([[/@@gtid_executed/, [{ e: '' }]]]);
    const primary = fakeSession([[/@@gtid_purged/, [{ p: '', ok: 1 }]]]);
    await ensureReplication(spec('shard-0-replica'), { replica, primary: () => Promise.resolve(primary) }, dirs);
    expect(replica.ran).toEqual([
      'SHOW REPLICA STATUS',
      'SELECT @@gtid_executed AS e',
      expect.stringMatching(/^CHANGE REPLICATION SOURCE TO /),
      'START REPLICA',
    ]);
  });

  it('a configured replica with both threads running: nothing to do', async () => {
    const replica = fakeSession([
      [/SHOW REPLICA STATUS/, [{ Master_Host: '127.0.0.1', Master_Port: 3313, Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes' }]],
    ]);
    await ensureReplication(spec('shard-2-replica'), { replica, primary: () => Promise.reject(new Error('not needed')) }, dirs);
    expect(replica.ran).toEqual(['SHOW REPLICA STATUS']);
  });

  it('a configured replica whose SQL thread stopped: START SLAVE only', async () => {
    const replica = fakeSession([
      [/SHOW REPLICA STATUS/, [{ Master_Host: '127.0.0.1', Master_Port: 3313, Slave_IO_Running: 'Yes', Slave_SQL_Running: 'No' }]],
    ]);
    await ensureReplication(spec('shard-2-replica'), { replica, primary: () => Promise.reject(new Error('not needed')) }, dirs);
    expect(replica.ran).toEqual(['SHOW REPLICA STATUS', 'START SLAVE']);
  });

  it('refuses a fresh replica when the primary purged binlogs it would need (MySQL gtid_purged, MariaDB Gtid_list)', async () => {
    const mysqlReplica = fakeSession([[/@@gtid_executed/, [{ e: '' }]]]);
    const mysqlPrimary = fakeSession([[/@@gtid_purged/, [{ p: 'uuid:1-40', ok: 0 }]]]);
    await expect(
      ensureReplication(spec('shard-0-replica'), { replica: mysqlReplica, primary: () => Promise.resolve(mysqlPrimary) }, dirs),
    ).rejects.toThrow(
      /shard-0-replica: cannot start replicating from shard-0: it purged uuid:1-40 .*remove \/s\/data\/shard-0 and \/s\/data\/shard-0-replica/,
    );
    expect(mysqlReplica.ran.some((q) => q.startsWith('CHANGE'))).toBe(false);

    const mariaReplica = fakeSession([[/gtid_slave_pos/, [{ p: '' }]]]);
    const mariaPrimary = fakeSession([
      [/SHOW BINARY LOGS/, [{ Log_name: 'binlog.000003' }]],
      [
        /SHOW BINLOG EVENTS/,
        [
          { Event_type: 'Format_desc', Info: 'Server ver' },
          { Event_type: 'Gtid_list', Info: '[0-3-120]' },
        ],
      ],
    ]);
    await expect(
      ensureReplication(spec('shard-2-replica'), { replica: mariaReplica, primary: () => Promise.resolve(mariaPrimary) }, dirs),
    ).rejects.toThrow(/its oldest binlog binlog\.000003 starts after \[0-3-120\]/);
  });
});
