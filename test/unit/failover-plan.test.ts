import { failoverLine } from '../../src/cli/failover-command.js';
import { silentFailure } from '../../src/cli/failover-nodes.js';
import {
  chooseFailoverTarget,
  deadPrimary,
  failoverSql,
  parseTimeoutSeconds,
  repointStatement,
  type NodeProbe,
} from '../../src/cli/failover-plan.js';
import { FailoverError, UsageError } from '../../src/errors/index.js';

describe('failover statements', () => {
  it('fence with super_read_only on MySQL (the admin account bypasses plain read_only) and read_only on MariaDB', () => {
    expect(failoverSql('mysql').fence).toEqual(['SET GLOBAL super_read_only = ON']);
    expect(failoverSql('mariadb').fence).toEqual(['SET GLOBAL read_only = ON']);
    expect(failoverSql('mysql').promote).toEqual([
      'STOP REPLICA',
      'RESET REPLICA ALL',
      'SET GLOBAL super_read_only = OFF',
      'SET GLOBAL read_only = OFF',
    ]);
    expect(failoverSql('mariadb').waitFor).toBe('SELECT MASTER_GTID_WAIT(?, ?) AS w');
  });

  it('repoint by GTID with every value bound, never spliced into the text', () => {
    const account = { user: "repl'; DROP USER root; --", password: 'p"w\\' };
    const mysql = repointStatement(
      'mysql',
      { name: 'r', host: 'db-1', port: 3306, serverPublicKey: '/keys/r.pem' },
      account,
      undefined,
      true,
    );
    expect(mysql.sql).toBe(
      'CHANGE REPLICATION SOURCE TO SOURCE_HOST=?, SOURCE_PORT=?, SOURCE_USER=?, SOURCE_PASSWORD=?, SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=2, SOURCE_PUBLIC_KEY_PATH=?',
    );
    expect(mysql.values).toEqual(['db-1', 3306, account.user, account.password, '/keys/r.pem']);
    const tls = repointStatement('mysql', { name: 'r', host: 'db-1', port: 3306 }, account, { mode: 'verify-full', ca: '/ca.pem' }, false);
    expect(tls.sql).toMatch(/SOURCE_SSL=1, SOURCE_SSL_CA=\?$/);
    expect(tls.values.at(-1)).toBe('/ca.pem');
  });

  it('a demoted MariaDB primary starts from its own binlog position (current_pos), another replica from its slave position', () => {
    const n = { name: 'r', host: 'h', port: 1 };
    expect(repointStatement('mariadb', n, { user: 'u', password: 'p' }, undefined, true).sql).toContain('MASTER_USE_GTID=current_pos');
    expect(repointStatement('mariadb', n, { user: 'u', password: 'p' }, undefined, false).sql).toContain('MASTER_USE_GTID=slave_pos');
  });
});

describe('--timeout', () => {
  it('takes positive seconds, decimals too', () => {
    expect(parseTimeoutSeconds('30')).toBe(30);
    expect(parseTimeoutSeconds('0.5')).toBe(0.5);
  });

  it.each(['abc', '0', '-5', '', '1e3', 'Infinity', '30s', '0.0'])('refuses "%s" with a usage error (never a silent 30)', (value) => {
    expect(() => parseTimeoutSeconds(value)).toThrow(UsageError);
    expect(() => parseTimeoutSeconds(value)).toThrow(/--timeout expects seconds > 0/);
  });
});

const A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const B = '4f22ab58-82db-22f2-af44-d91bb0530673';
const nodes = [
  { name: 'shard-1', host: '127.0.0.1', port: 3312 },
  { name: 'shard-1-r1', host: '127.0.0.1', port: 3412 },
  { name: 'shard-1-r2', host: '127.0.0.1', port: 3512 },
];
const dead = (name: string): NodeProbe => ({ name, answers: false, readOnly: null, source: null });
const replicaOf = (name: string, port: number): NodeProbe => ({ name, answers: true, readOnly: true, source: { host: '127.0.0.1', port } });

describe('unplanned failover: the dead primary', () => {
  it('is the node the answering replicas follow', () => {
    const from = deadPrimary('shard-1', nodes, [dead('shard-1'), replicaOf('shard-1-r1', 3312), replicaOf('shard-1-r2', 3312)]);
    expect(from.name).toBe('shard-1');
  });

  it('after an earlier failover it is the replica that took over, whatever the config says', () => {
    const probes = [replicaOf('shard-1', 3412), dead('shard-1-r1'), replicaOf('shard-1-r2', 3412)];
    expect(deadPrimary('shard-1', nodes, probes).name).toBe('shard-1-r1');
  });

  it('is the only silent node when no replica says whom it follows', () => {
    const probes = [dead('shard-1'), { ...replicaOf('shard-1-r1', 0), source: null }, { ...replicaOf('shard-1-r2', 0), source: null }];
    expect(deadPrimary('shard-1', nodes, probes).name).toBe('shard-1');
  });

  it('refuses while a node takes writes or the primary answers: a second writer is never made', () => {
    const writable: NodeProbe = { name: 'shard-1', answers: true, readOnly: false, source: null };
    expect(() => deadPrimary('shard-1', nodes, [writable, replicaOf('shard-1-r1', 3312), replicaOf('shard-1-r2', 3312)])).toThrow(
      new UsageError("the primary shard-1 answers (it takes shard-1's writes): use --planned"),
    );
    // fenced (read-only) but alive: still the planned path
    const fenced: NodeProbe = { name: 'shard-1', answers: true, readOnly: true, source: null };
    expect(() => deadPrimary('shard-1', nodes, [fenced, replicaOf('shard-1-r1', 3312), replicaOf('shard-1-r2', 3312)])).toThrow(
      /the primary shard-1 answers: use --planned/,
    );
    // a server that refuses the login is alive
    const refusing: NodeProbe = { name: 'shard-1', answers: true, readOnly: null, source: null };
    expect(() => deadPrimary('shard-1', nodes, [refusing, replicaOf('shard-1-r1', 3312), replicaOf('shard-1-r2', 3312)])).toThrow(
      UsageError,
    );
  });

  it('a replica of a replica is no source of doubt; two silent sources or none are', () => {
    const chained = deadPrimary('shard-1', nodes, [dead('shard-1'), replicaOf('shard-1-r1', 3312), replicaOf('shard-1-r2', 3412)]);
    expect(chained.name).toBe('shard-1');
    expect(() => deadPrimary('shard-1', nodes, [dead('shard-1'), replicaOf('shard-1-r1', 3312), replicaOf('shard-1-r2', 9999)])).toThrow(
      new FailoverError('instance shard-1: its replicas follow different sources (shard-1, 127.0.0.1:9999); fix the roles by hand'),
    );
    expect(() =>
      deadPrimary('shard-1', nodes, [dead('shard-1'), dead('shard-1-r1'), { ...replicaOf('shard-1-r2', 0), source: null }]),
    ).toThrow(/cannot tell which node was the primary/);
  });

  it('a refused, reset or timed-out connection is silence; a refused login or a full server is not', () => {
    expect(silentFailure({ kind: 'connection', errno: 2003 })).toBe(true);
    expect(silentFailure({ kind: 'connection', code: 'ECONNREFUSED' })).toBe(true);
    expect(silentFailure({ kind: 'connection', errno: 1040 })).toBe(false);
    expect(silentFailure({ kind: 'auth', errno: 1045 })).toBe(false);
    expect(silentFailure(new Error('TLS failed'))).toBe(false);
  });
});

describe('unplanned failover: the replica to promote', () => {
  it('MySQL: the one whose received ∪ executed set contains every other (received but not applied counts)', () => {
    const r1 = { name: 'shard-1-r1', applied: `${A}:1-90`, received: `${A}:1-100` };
    const r2 = { name: 'shard-1-r2', applied: `${A}:1-95`, received: `${A}:1-95` };
    expect(chooseFailoverTarget('shard-1', 'mysql', [r2, r1])).toEqual({ name: 'shard-1-r1', holds: `${A}:1-100`, waitFor: `${A}:1-100` });
    // executed sets over two servers (an earlier failover) compare as sets
    const x = { name: 'shard-1-r1', applied: `${A}:1-100,\n${B}:1-5`, received: '' };
    const y = { name: 'shard-1-r2', applied: `${A}:1-100`, received: `${B}:1-3` };
    expect(chooseFailoverTarget('shard-1', 'mysql', [y, x])).toMatchObject({ name: 'shard-1-r1', waitFor: '' });
  });

  it('MySQL: equal replicas: the first in config order', () => {
    const r1 = { name: 'shard-1-r1', applied: `${A}:1-100`, received: '' };
    const r2 = { name: 'shard-1-r2', applied: `${A}:1-100`, received: `${A}:1-100` };
    expect(chooseFailoverTarget('shard-1', 'mysql', [r1, r2]).name).toBe('shard-1-r1');
  });

  it('--to a replica behind another is refused, naming the one that holds more', () => {
    const r1 = { name: 'shard-1-r1', applied: `${A}:1-90`, received: `${A}:1-100` };
    const r2 = { name: 'shard-1-r2', applied: `${A}:1-95`, received: '' };
    expect(() => chooseFailoverTarget('shard-1', 'mysql', [r1, r2], 'shard-1-r2')).toThrow(UsageError);
    expect(() => chooseFailoverTarget('shard-1', 'mysql', [r1, r2], 'shard-1-r2')).toThrow(
      /--to shard-1-r2: shard-1-r1 holds transactions shard-1-r2 lacks .*promote shard-1-r1 instead/,
    );
    expect(chooseFailoverTarget('shard-1', 'mysql', [r1, r2], 'shard-1-r1').name).toBe('shard-1-r1');
    expect(() => chooseFailoverTarget('shard-1', 'mysql', [r1, r2], 'shard-9')).toThrow(/not a replica of shard-1 that answers/);
  });

  it('diverged replicas (each lacks some of the other) or none at all: no choice is made', () => {
    const r1 = { name: 'shard-1-r1', applied: `${A}:1-100,${B}:1`, received: '' };
    const r2 = { name: 'shard-1-r2', applied: `${A}:1-101`, received: '' };
    expect(() => chooseFailoverTarget('shard-1', 'mysql', [r1, r2])).toThrow(/no replica holds every other's transactions/);
    expect(() => chooseFailoverTarget('shard-1', 'mysql', [])).toThrow(FailoverError);
  });

  it('MariaDB: per domain, the latest of the binlog, slave and IO positions; it waits for what it received', () => {
    const r1 = { name: 'shard-2-r1', applied: '0-3-90,1-3-7,0-3-90', received: '0-3-100' };
    const r2 = { name: 'shard-2-r2', applied: '0-3-95,1-3-7', received: '0-3-95' };
    expect(chooseFailoverTarget('shard-2', 'mariadb', [r2, r1])).toEqual({
      name: 'shard-2-r1',
      holds: '0-3-100,1-3-7',
      waitFor: '0-3-100',
    });
    const behindInDomain1 = { name: 'shard-2-r1', applied: '0-3-100,1-3-6', received: '' };
    expect(() => chooseFailoverTarget('shard-2', 'mariadb', [behindInDomain1, r2])).toThrow(FailoverError);
  });
});

describe('the human line', () => {
  it('says which node died, which took over and what was not repointed', () => {
    const line = failoverLine({
      instance: 'shard-1',
      from: 'shard-1',
      to: 'shard-1-replica',
      planned: false,
      write_pause_ms: null,
      caught_up_to: `${A}:1-100`,
      id_sequences_moved: 0,
      repointed: [],
      not_repointed: ['shard-1'],
      seconds: 1.2,
    });
    expect(line).toBe(
      `shard-1: shard-1 is down, shard-1-replica takes the writes (it applied ${A}:1-100; 1.2 s in all); replicating from shard-1-replica: none; not repointed: shard-1`,
    );
  });

  it('says how many global ID sequences an unplanned failover moved forward', () => {
    const line = failoverLine({
      instance: 'shard-0',
      from: 'shard-0',
      to: 'shard-0-replica',
      planned: false,
      write_pause_ms: null,
      caught_up_to: '',
      id_sequences_moved: 3,
      repointed: [],
      not_repointed: ['shard-0'],
      seconds: 0.4,
    });
    expect(line).toMatch(/; 3 global ID sequences moved forward by 2\^40 past leases that may be lost$/);
  });
});
