import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import { describeServices } from '../../src/devcluster/index.js';
import { replicationFlags } from '../../src/devcluster/local/mysql-family.js';
import { sourcesFirst, withLiveRoles, type NodeRole } from '../../src/devcluster/live-roles.js';
import { rejoinAsReplica } from '../../src/devcluster/rejoin.js';
import { mariadbErrant, provisioningServerId, rejoinStep } from '../../src/devcluster/rejoin-plan.js';
import type { ServiceSpec } from '../../src/devcluster/service-spec.js';
import { MysqlGtidSet } from '../../src/gtid/index.js';
import type { MysqlSession } from '../../src/net/index.js';

// After an unplanned failover `dev up` restarts the dead primary: fenced, as a replica of the node
// that took over — by GTID when everything it holds reached that node, re-provisioned when not.
const OLD = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const NEW = '4f22ab58-82db-22f2-af44-d91bb0530673';

describe('MysqlGtidSet.minus', () => {
  it('keeps exactly the transactions the other set lacks', () => {
    const a = MysqlGtidSet.parse(`${OLD}:1-100:200-210,${NEW}:1-5`);
    expect(a.minus(MysqlGtidSet.parse(`${OLD}:1-95:205,${NEW}:1-9`)).toString()).toBe(`${OLD}:96-100:200-204:206-210`);
    expect(a.minus(a).empty).toBe(true);
    expect(a.minus(MysqlGtidSet.parse('')).toString()).toBe(a.toString());
    expect(
      MysqlGtidSet.parse(`${OLD}:tag:1-3`)
        .minus(MysqlGtidSet.parse(`${OLD}:1-3`))
        .toString(),
    ).toBe(`${OLD}:tag:1-3`);
  });
});

describe('rejoin decision', () => {
  it('nothing to do when it already replicates from the new primary', () => {
    expect(rejoinStep({ flavour: 'mysql', followsWriter: true, own: `${OLD}:1-100`, writer: '' })).toEqual({ action: 'none' });
  });

  it('MySQL: a subset of the new primary (it moved on with writes of its own) replicates by GTID', () => {
    const writer = `${OLD}:1-100,${NEW}:1-40`;
    expect(rejoinStep({ flavour: 'mysql', followsWriter: false, own: `${OLD}:1-100`, writer })).toEqual({ action: 'replicate' });
    expect(rejoinStep({ flavour: 'mysql', followsWriter: false, own: `${OLD}:1-100`, writer: `${OLD}:1-100` })).toEqual({
      action: 'replicate',
    });
  });

  it('MySQL: transactions that never reached the new primary are errant: re-provision, naming them', () => {
    const step = rejoinStep({ flavour: 'mysql', followsWriter: false, own: `${OLD}:1-100`, writer: `${OLD}:1-97,\n${NEW}:1-40` });
    expect(step).toEqual({ action: 'reprovision', errant: `${OLD}:98-100` });
  });

  it('MariaDB: compared per domain and originating server (binlog state), not by sequence number alone', () => {
    // the old primary (server 3) committed up to 0-3-500; the replica (13) got up to 0-3-495, then wrote 0-13-496…600
    expect(mariadbErrant('0-3-500', '0-3-495,0-13-600')).toBe('0-3-500 (the new primary has up to 0-3-495)');
    expect(rejoinStep({ flavour: 'mariadb', followsWriter: false, own: '0-3-500', writer: '0-3-495,0-13-600' })).toMatchObject({
      action: 'reprovision',
    });
    // everything arrived: replicate from its own binlog position
    expect(rejoinStep({ flavour: 'mariadb', followsWriter: false, own: '0-13-200,0-3-500', writer: '0-3-500,0-13-600' })).toEqual({
      action: 'replicate',
    });
    // a domain or server the new primary never saw
    expect(mariadbErrant('0-3-500,1-3-2', '0-3-500')).toBe('1-3-2 (the new primary has none of them)');
    expect(mariadbErrant('', '0-3-1')).toBe('');
  });
});

describe('re-provisioning server id', () => {
  const specs = describeServices(loadClusterConfig(bundledClusterConfig, {}));
  it("replays the history under an id none of the config's servers has (a server skips events carrying its own)", () => {
    const ids = specs.flatMap((s) => (s.sql ? [s.sql.serverId] : []));
    for (const id of ids) {
      const p = provisioningServerId(id);
      expect(ids).not.toContain(p);
      expect(p).toBeLessThanOrEqual(2 ** 32 - 1);
    }
    expect(new Set(ids.map(provisioningServerId)).size).toBe(ids.length);
  });
});

const config = loadClusterConfig(bundledClusterConfig, {});
const specs = describeServices(config);
const byName = (list: readonly ServiceSpec[], name: string) => list.find((s) => s.name === name)!;
const up = (readOnly: boolean, sourcePort?: number): NodeRole => ({
  answers: true,
  readOnly,
  source: sourcePort ? { host: '127.0.0.1', port: sourcePort } : null,
});
const down: NodeRole = { answers: false, readOnly: null, source: null };

describe('live roles', () => {
  it('as configured while the configured primary takes writes, or nobody answers', () => {
    const configured = withLiveRoles(
      specs,
      new Map([
        ['shard-1', up(false)],
        ['shard-1-replica', up(true, 3312)],
      ]),
    );
    expect(configured).toEqual({ specs, conflicts: [] });
    expect(
      withLiveRoles(
        specs,
        new Map([
          ['shard-1', down],
          ['shard-1-replica', down],
        ]),
      ).specs,
    ).toEqual(specs);
    // the primary is dead and its replica is still read-only (no failover yet): nothing changes
    expect(
      withLiveRoles(
        specs,
        new Map([
          ['shard-1', down],
          ['shard-1-replica', up(true, 3312)],
        ]),
      ).specs,
    ).toEqual(specs);
  });

  it('after a failover: the writable replica is the primary, the old primary rejoins as its replica (fenced)', () => {
    const live = withLiveRoles(
      specs,
      new Map([
        ['shard-1', down],
        ['shard-1-replica', up(false)],
      ]),
    );
    const promoted = byName(live.specs, 'shard-1-replica');
    const old = byName(live.specs, 'shard-1');
    expect(promoted.role).toBe('shard');
    expect(promoted.replicaOf).toBeUndefined();
    expect(old).toMatchObject({ role: 'replica', rejoin: true, replicaOf: { name: 'shard-1-replica', host: '127.0.0.1', port: 3412 } });
    // other instances untouched
    expect(byName(live.specs, 'shard-0')).toBe(byName(specs, 'shard-0'));
    // it starts with a replica's options: read_only, super_read_only, its updates logged
    expect(replicationFlags(old, '/d')).toEqual(
      expect.arrayContaining([
        '--server-id=2',
        '--read-only=ON',
        '--super-read-only=ON',
        '--log-replica-updates=ON',
        '--relay-log=/d/relay',
      ]),
    );
    // and starts after the node it replicates from
    const order = sourcesFirst(live.specs).map((s) => s.name);
    expect(order.indexOf('shard-1-replica')).toBeLessThan(order.indexOf('shard-1'));
    expect(sourcesFirst(specs)).toEqual(specs);
  });

  it('an old primary that already replicates is shown from the source it reports', () => {
    const live = withLiveRoles(
      specs,
      new Map([
        ['shard-3', up(true, 3414)],
        ['shard-3-replica', up(false)],
      ]),
    );
    expect(byName(live.specs, 'shard-3')).toMatchObject({ role: 'replica', replicaOf: { name: 'shard-3-replica' } });
  });

  it('two writers in one instance: a conflict, the instance left as configured', () => {
    const live = withLiveRoles(
      specs,
      new Map([
        ['shard-2', up(false)],
        ['shard-2-replica', up(false)],
      ]),
    );
    expect(live.conflicts).toEqual(['shard-2: shard-2 and shard-2-replica all take writes']);
    expect(byName(live.specs, 'shard-2')).toBe(byName(specs, 'shard-2'));
  });
});

/** A session that answers by the first pattern matching the statement, and records what it ran (with values). */
function fakeSession(answers: [RegExp, Record<string, unknown>[]][]): MysqlSession & { ran: string[]; values: unknown[][] } {
  const ran: string[] = [];
  const values: unknown[][] = [];
  return {
    ran,
    values,
    query: <T>(sql: string, v: readonly unknown[] = []) => {
      ran.push(sql);
      values.push([...v]);
      const hit = answers.find(([re]) => re.test(sql));
      return Promise.resolve((hit ? hit[1] : []) as T[]);
    },
    close: () => Promise.resolve(),
  };
}

describe('rejoinAsReplica', () => {
  const live = withLiveRoles(
    specs,
    new Map([
      ['shard-1', down],
      ['shard-1-replica', up(false)],
      ['shard-2', down],
      ['shard-2-replica', up(false)],
    ]),
  );
  const mysqlOld = byName(live.specs, 'shard-1');
  const mariaOld = byName(live.specs, 'shard-2');

  it('MySQL subset: fenced first, then auto-positioned replication from the new primary', async () => {
    const node = fakeSession([[/gtid_executed/, [{ g: `${OLD}:1-100` }]]]);
    const writer = fakeSession([[/gtid_executed/, [{ g: `${OLD}:1-100,${NEW}:1-9` }]]]);
    expect(await rejoinAsReplica(mysqlOld, { node, writer: () => Promise.resolve(writer) })).toEqual({ action: 'replicate' });
    expect(node.ran[0]).toBe('SET GLOBAL super_read_only = ON');
    expect(node.ran.slice(-2)).toEqual([
      'CHANGE REPLICATION SOURCE TO SOURCE_HOST=?, SOURCE_PORT=?, SOURCE_USER=?, SOURCE_PASSWORD=?, SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=2, GET_SOURCE_PUBLIC_KEY=1',
      'START REPLICA',
    ]);
    expect(node.values.at(-2)).toEqual(['127.0.0.1', 3412, 'shardline_repl', 'shardline']);
  });

  it('MySQL errant: nothing changed on the node, the caller re-provisions it', async () => {
    const node = fakeSession([[/gtid_executed/, [{ g: `${OLD}:1-100` }]]]);
    const writer = fakeSession([[/gtid_executed/, [{ g: `${OLD}:1-99,${NEW}:1-9` }]]]);
    expect(await rejoinAsReplica(mysqlOld, { node, writer: () => Promise.resolve(writer) })).toEqual({
      action: 'reprovision',
      errant: `${OLD}:100`,
    });
    expect(node.ran.some((s) => /CHANGE|START/.test(s))).toBe(false);
  });

  it('MariaDB subset: master_use_gtid=current_pos (its own binlog knows where it stopped)', async () => {
    const node = fakeSession([[/gtid_binlog_state/, [{ g: '0-3-500' }]]]);
    const writer = fakeSession([[/gtid_binlog_state/, [{ g: '0-3-500,0-13-520' }]]]);
    expect(await rejoinAsReplica(mariaOld, { node, writer: () => Promise.resolve(writer) })).toEqual({ action: 'replicate' });
    expect(node.ran[0]).toBe('SET GLOBAL read_only = ON');
    expect(node.ran.at(-2)).toContain('MASTER_USE_GTID=current_pos');
    expect(node.ran.at(-1)).toBe('START SLAVE');
  });

  it('already a replica of the new primary: nothing to do', async () => {
    const node = fakeSession([[/SHOW REPLICA STATUS/, [{ Master_Host: '127.0.0.1', Master_Port: 3413, Slave_IO_Running: 'Yes' }]]]);
    const writer = () => Promise.reject(new Error('not asked'));
    expect(await rejoinAsReplica(mariaOld, { node, writer })).toEqual({ action: 'none' });
    expect(node.ran).toEqual(['SET GLOBAL read_only = ON', 'SHOW REPLICA STATUS']);
  });

  it('refuses a spec that is not rejoining', async () => {
    await expect(
      rejoinAsReplica(byName(specs, 'shard-1-replica'), { node: fakeSession([]), writer: () => Promise.reject(new Error()) }),
    ).rejects.toThrow(/not a primary rejoining/);
  });
});
