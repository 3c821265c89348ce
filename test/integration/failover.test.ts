import { setTimeout as sleep } from 'node:timers/promises';
import { createRouter, loadClusterConfig } from '../../src/index.js';
import { ALL_SECTIONS, requireSections } from '../../src/config/index.js';
import { WorkerProcess, writeCdcTestConfig } from '../support/cdc.js';
import { cdcFollowed, type FailoverCdc } from '../support/cdc-failover.js';
import { countOn, onNode, startWorkload } from '../support/failover-workload.js';
import { shardline, testConfig } from '../support/cluster.js';

// Issue 16, parts 5 and 6: a planned failover under a write+read workload through a router in
// another process, on a MySQL and a MariaDB instance; then back, so the cluster ends as it began.
// A CDC worker reads every instance throughout: it follows each switch to the node that takes
// writes, and Elasticsearch and the archive end equal to the source, with no change event twice.
const base = testConfig();
const NAME = `it_failover_${process.pid}`;
const cdcConfig = requireSections(loadClusterConfig(writeCdcTestConfig(NAME)), ALL_SECTIONS, 'the failover test');
const worker = new WorkerProcess(writeCdcTestConfig(NAME), 19471);
const cdc: FailoverCdc = { name: NAME, config: cdcConfig, worker };

beforeAll(async () => {
  worker.start();
  await worker.waitReading(cdcConfig.instances.map((i) => i.name));
}, 120_000);

afterAll(async () => {
  await worker.stop();
});

// a fresh uid range per run: rows of an earlier run must not turn inserts into duplicates
const runBase = 9_180_000_000_000_000n + BigInt(Date.now() % 1_000_000) * 1_000_000n;

describe.each([
  ['shard-1', runBase],
  ['shard-3', runBase + 500_000n],
])('planned failover of %s', (instance, firstUid) => {
  const inst = base.instances.find((i) => i.name === instance)!;
  const replica = inst.replicas![0]!;

  afterAll(async () => {
    // whatever happened, the cluster ends with the configured primary taking writes
    const status = await onNode(inst.port, async (c) => (await c.query('SELECT @@global.read_only AS ro'))[0] as { ro: number }[]);
    if (Number(status[0]!.ro) !== 0) shardline('failover', '--instance', instance, '--to', instance, '--planned', '--json');
  });

  it('moves the writes to the replica and back under load: every acknowledged write is on the new primary, only retriable errors, a bounded pause, routers in both processes follow', async () => {
    const local = await createRouter(base);
    const work = startWorkload(instance, firstUid);
    try {
      await work.ready;
      await sleep(1500);
      const report = JSON.parse(shardline('failover', '--instance', instance, '--planned', '--json')) as {
        from: string;
        to: string;
        write_pause_ms: number;
        repointed: string[];
      };
      expect(report).toMatchObject({ from: instance, to: replica.name, repointed: [instance] });
      await sleep(1500);
      // this process's router followed too
      expect(local.health().find((h) => h.instance === instance)!.primary).toBe(replica.name);
      const result = await work.stop();
      process.stderr.write(
        `[failover] ${instance}: ${result.acked.length} writes acknowledged, errors ${JSON.stringify(result.errors)}, longest gap between writes ${result.maxGapMs} ms, fence→promote ${report.write_pause_ms} ms, ${result.reads} reads (${result.readFailures} failed)\n`,
      );
      expect(result.fatal).toEqual([]);
      // what failed was refused by the fenced node (1290), retriably
      if (result.lastError !== null) expect(result.lastError).toMatch(/^1290 /);
      expect(result.readFailures).toBe(0);
      expect(result.acked.length).toBeGreaterThan(100);
      expect(result.maxGapMs).toBeLessThan(3000);
      // every acknowledged write is on the new primary, and it replicates back to the old one
      const { rows } = await countOn(local, replica.port, instance, result.acked);
      expect(rows).toBe(result.acked.length);
      const w = await local
        .query('INSERT INTO users (uid, name) VALUES (?, ?)', [BigInt(result.acked.at(-1)!) + 7n * 1024n * 1024n, 'after'])
        .catch((e: Error) => e);
      expect(w).not.toBeInstanceOf(Error);
      // a change of an old row on the new primary: its version must beat the insert's (an older epoch)
      await local.query('UPDATE users SET name = ? WHERE uid = ?', ['on the replica', BigInt(result.acked[1]!)]);
      await sleep(1000);
      const back = await countOn(local, inst.port, instance, result.acked);
      expect(back.rows).toBe(result.acked.length);
      // and back: the configured primary takes writes again
      const again = JSON.parse(shardline('failover', '--instance', instance, '--to', instance, '--planned', '--json')) as { to: string };
      expect(again.to).toBe(instance);
      await sleep(800);
      expect(local.health().find((h) => h.instance === instance)!.primary).toBe(instance);
      await local.query('UPDATE users SET name = ? WHERE uid = ?', ['failed back', BigInt(result.acked[0]!)]);
      await cdcFollowed(cdc, local, instance, result.acked, {
        moved: new RegExp(`instance ${instance}: ${instance} no longer takes writes`),
        minEvents: result.acked.length + 2,
      });
      for (let i = 0; i < result.acked.length; i += 500)
        await local.query(`DELETE FROM users WHERE uid IN (${result.acked.slice(i, i + 500).join(',')})`);
    } finally {
      await work.stop().catch(() => undefined);
      await local.close();
    }
  }, 300_000);
});
