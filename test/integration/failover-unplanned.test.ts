import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRouter } from '../../src/index.js';
import { packageRoot } from '../../src/config/index.js';
import type { ServiceStatus } from '../../src/devcluster/index.js';
import { shardline, testConfig } from '../support/cluster.js';
import { ALL_SECTIONS, requireSections } from '../../src/config/index.js';
import { loadClusterConfig } from '../../src/index.js';
import { WorkerProcess, writeCdcTestConfig } from '../support/cdc.js';
import { cdcFollowed, type FailoverCdc } from '../support/cdc-failover.js';
import { countOn, onNode, startWorkload } from '../support/failover-workload.js';
import type { FailoverReport } from '../../src/cli/failover.js';

// An unplanned failover under a write+read workload through a router in another process, on a
// MySQL and a MariaDB instance: the primary's mysqld is killed -9 (its pid from `dev status`),
// `shardline failover` without --planned promotes its replica, `dev up` brings the old primary
// back fenced as a replica of the new one (by GTID, or re-provisioned when it holds transactions
// that never reached the replica), and a planned failover back ends the cluster as configured.
const base = testConfig();
const NAME = `it_unplanned_${process.pid}`;
const cdcConfigPath = writeCdcTestConfig(NAME);
const cdc: FailoverCdc = {
  name: NAME,
  config: requireSections(loadClusterConfig(cdcConfigPath), ALL_SECTIONS, 'the unplanned failover test'),
  worker: new WorkerProcess(cdcConfigPath, 19473),
};

beforeAll(async () => {
  cdc.worker.start();
  await cdc.worker.waitReading(cdc.config.instances.map((i) => i.name));
}, 120_000);

afterAll(async () => {
  await cdc.worker.stop();
});

/** What a node says about its role: read_only (and MySQL's super_read_only), its source and replication threads. */
async function roleOf(port: number, flavour: 'mysql' | 'mariadb') {
  return onNode(port, async (c) => {
    const [[ro]] = (await c.query(
      flavour === 'mysql'
        ? 'SELECT @@global.read_only AS ro, @@global.super_read_only AS sro'
        : 'SELECT @@global.read_only AS ro, 1 AS sro',
    )) as unknown as [{ ro: number; sro: number }[]];
    const [rows] = (await c.query('SHOW REPLICA STATUS')) as unknown as [Record<string, unknown>[]];
    const r = rows[0];
    return {
      readOnly: Number(ro!.ro) === 1,
      superReadOnly: Number(ro!.sro) === 1,
      sourcePort: r ? Number(r['Source_Port'] ?? r['Master_Port']) : null,
      io: r ? String(r['Replica_IO_Running'] ?? r['Slave_IO_Running']) : null,
      sql: r ? String(r['Replica_SQL_Running'] ?? r['Slave_SQL_Running']) : null,
    };
  });
}

const answers = (port: number) => onNode(port, () => Promise.resolve(true)).catch(() => false);

/** Whether the process runs (a zombie — killed, not yet reaped by whoever adopted it — does not). */
function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/** `shardline dev status --json`, also while a service is down (it exits 3 then). */
function devStatus(): ServiceStatus[] {
  const r = spawnSync(process.execPath, [path.join(packageRoot, 'dist', 'cli', 'main.js'), 'dev', 'status', '--json'], {
    cwd: packageRoot,
    encoding: 'utf8',
  });
  return JSON.parse(r.stdout) as ServiceStatus[];
}

/** `shardline dev up` with its stderr too (the rejoin's warning goes there); throws on a non-zero exit. */
function devUp(): string {
  const r = spawnSync(process.execPath, [path.join(packageRoot, 'dist', 'cli', 'main.js'), 'dev', 'up', '--timeout', '600'], {
    cwd: packageRoot,
    encoding: 'utf8',
  });
  const text = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`shardline dev up exited ${r.status}:\n${text}`);
  return text;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(100);
  }
}

// a fresh uid range per run: rows of an earlier run must not turn inserts into duplicates
const runBase = 9_270_000_000_000_000n + BigInt(Date.now() % 1_000_000) * 1_000_000n;

describe.each([
  ['shard-1', runBase],
  ['shard-2', runBase + 500_000n],
])('unplanned failover of %s', (instance, firstUid) => {
  const inst = base.instances.find((i) => i.name === instance)!;
  const replica = inst.replicas![0]!;

  afterAll(async () => {
    // whatever happened, the cluster ends as configured: a dead node back (dev up rejoins it), then the writes moved back
    if (!(await answers(inst.port)) || !(await answers(replica.port))) devUp();
    const primary = await roleOf(inst.port, inst.flavour).catch(() => null);
    if (primary?.readOnly) shardline('failover', '--instance', instance, '--to', instance, '--planned', '--json');
  }, 900_000);

  it('kill -9 the primary: the replica takes over, writes acknowledged after the failover are on it, the old primary rejoins as its replica, and back', async () => {
    // this instance also leases the router's global IDs (router.ids.instance)
    const local = await createRouter({ ...base, router: { ...base.router, ids: { ...base.router.ids, instance } } });
    const idName = `it_unplanned_${process.pid}_${instance.replace('-', '_')}`;
    const meta = base.sharding.naming.metaDatabase;
    const nextIdOn = async (port: number): Promise<bigint | null> => {
      const [rows] = (await onNode(port, (c) =>
        c.query({ sql: `SELECT CAST(next_id AS CHAR) AS n FROM \`${meta}\`.id_segments WHERE name = ?`, values: [idName] }),
      ).catch(() => [[]])) as unknown as [{ n: string }[]];
      return rows[0] ? BigInt(rows[0].n) : null;
    };
    const work = startWorkload(instance, firstUid);
    let acked: string[] = [];
    try {
      await work.ready;
      const firstId = await local.nextId(idName);
      const leasedUpTo = (await nextIdOn(inst.port))!;
      expect(leasedUpTo).toBeGreaterThan(firstId);
      await until(`${replica.name} holds the lease of ${idName}`, async () => (await nextIdOn(replica.port)) === leasedUpTo, 10_000);
      await sleep(1500);

      // kill -9 the primary's mysqld: the pid `dev up` recorded, as router-replica.test.ts kills a replica
      const victim = devStatus().find((s) => s.name === instance)!;
      expect(victim.pid).toEqual(expect.any(Number));
      process.kill(victim.pid!, 'SIGKILL');
      await until(`${instance} (pid ${victim.pid}) gone`, async () => !alive(victim.pid!) && !(await answers(inst.port)), 10_000);
      const atKill = await work.mark();

      const report = JSON.parse(shardline('failover', '--instance', instance, '--json')) as FailoverReport;
      const atFailover = await work.mark();
      expect(report).toMatchObject({
        instance,
        from: instance,
        to: replica.name,
        planned: false,
        write_pause_ms: null,
        repointed: [],
        not_repointed: [instance],
      });
      // the new primary's ID sequences moved past anything the dead primary may have leased unreplicated
      expect(report.id_sequences_moved).toBeGreaterThanOrEqual(1);
      expect(await nextIdOn(replica.port)).toBe(leasedUpTo + 2n ** 40n);
      // this process's router follows the new primary too
      await until(
        `the router writes to ${replica.name}`,
        () => local.health().find((h) => h.instance === instance)!.primary === replica.name,
        10_000,
      );
      await sleep(1500);
      const result = await work.stop();
      acked = result.acked;
      process.stderr.write(
        `[failover-unplanned] ${instance}: ${acked.length} writes acknowledged (${atKill} before the kill, ${acked.length - atFailover} after the failover), ` +
          `errors ${JSON.stringify(result.errors)}, fatal ${JSON.stringify(result.fatal)}, longest gap ${result.maxGapMs} ms, ` +
          `failover ${report.seconds} s (caught up to ${report.caught_up_to}), ${result.reads} reads (${result.readFailures} failed)\n`,
      );

      // every write acknowledged after the failover is on the new primary
      const after = acked.slice(atFailover);
      expect(after.length).toBeGreaterThan(0);
      expect((await countOn(local, replica.port, instance, after)).rows).toBe(after.length);
      // writes acknowledged before it: asynchronous replication may have lost the last ones the old
      // primary committed before it died (they never reached the replica) — counted, not asserted
      const before = acked.slice(0, atFailover);
      const kept = (await countOn(local, replica.port, instance, before)).rows;
      console.log(
        `[failover-unplanned] ${instance}: ${before.length - kept} of ${before.length} writes acknowledged before the failover are not on ${replica.name} (lost with ${instance})`,
      );

      // dev up brings the old primary back: fenced, a replica of the new primary (re-provisioned when it held errant transactions)
      const up = devUp();
      const warning = up.split('\n').find((l) => l.includes('errant GTIDs'));
      console.log(`[failover-unplanned] ${instance} rejoined ${warning ? `by re-provisioning: ${warning}` : 'by GTID'}`);
      const old = await roleOf(inst.port, inst.flavour);
      expect(old).toMatchObject({ readOnly: true, superReadOnly: true, sourcePort: replica.port, io: 'Yes', sql: 'Yes' });
      await until(
        `${instance} replicated the writes acknowledged after the failover`,
        async () => (await countOn(local, inst.port, instance, after)).rows === after.length,
        60_000,
      );
      const status = devStatus();
      expect(status.find((s) => s.name === instance)).toMatchObject({ role: 'replica', replica_of: replica.name, healthy: true });
      expect(status.find((s) => s.name === replica.name)).toMatchObject({ role: 'shard', replica_of: null, healthy: true });

      // and back: a planned failover to the configured primary
      const back = JSON.parse(shardline('failover', '--instance', instance, '--to', instance, '--planned', '--json')) as FailoverReport;
      expect(back).toMatchObject({ from: replica.name, to: instance, planned: true, repointed: [replica.name] });
      expect(await roleOf(inst.port, inst.flavour)).toMatchObject({ readOnly: false, sourcePort: null });
      await until(
        `${replica.name} replicates from ${instance}`,
        async () => {
          const r = await roleOf(replica.port, inst.flavour);
          return r.readOnly && r.sourcePort === inst.port && r.io === 'Yes' && r.sql === 'Yes';
        },
        30_000,
      );
      await until(
        `the router writes to ${instance}`,
        () => local.health().find((h) => h.instance === instance)!.primary === instance,
        10_000,
      );
      const configured = devStatus();
      expect(configured.find((s) => s.name === instance)).toMatchObject({ role: 'shard', replica_of: null, healthy: true });
      expect(configured.find((s) => s.name === replica.name)).toMatchObject({ role: 'replica', replica_of: instance, healthy: true });
      // a write through the router lands on the configured primary again
      let uid = BigInt(acked.at(-1)!) + 1n;
      while (local.topology.locate(uid).instance !== instance) uid++;
      acked.push(String(uid));
      const w = await local.query('INSERT INTO users (uid, name) VALUES (?, ?)', [uid, 'after failback']).catch((e: Error) => e);
      expect(w).not.toBeInstanceOf(Error);
      expect((await countOn(local, inst.port, instance, [String(uid)])).rows).toBe(1);

      // the CDC worker followed the kill, the failover and the failback: the sinks equal the source
      // for every write the source has (lost ones may be in the sinks: the reader can be ahead of the replica)
      await cdcFollowed(cdc, local, instance, acked, { lostAllowed: true });
    } finally {
      for (const port of [inst.port, replica.port])
        await onNode(port, (c) => c.query(`DELETE FROM \`${meta}\`.id_segments WHERE name = ?`, [idName])).catch(() => undefined);
      await work.stop().catch(() => undefined);
      if (local.health().find((h) => h.instance === instance)?.primary === instance)
        for (let i = 0; i < acked.length; i += 500)
          await local.query(`DELETE FROM users WHERE uid IN (${acked.slice(i, i + 500).join(',')})`).catch(() => undefined);
      await local.close();
    }
  }, 900_000);
});
