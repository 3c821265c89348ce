/**
 * npm run bench:replica — read-your-writes on replicas (issue 16): what a read that must see a
 * write costs on a replica that is behind, against the same read on the primary, and how often a
 * read without a token is stale.
 *
 * - the replicas of shard-0 (MySQL) and shard-2 (MariaDB) are held ~BENCH_LAG_MS (100) behind:
 *   their SQL thread stops for BENCH_LAG_MS, runs BENCH_RUN_MS (5), stops again … (neither server
 *   delays replication by less than a second, so the lag is made by pausing the applier);
 * - pairs: an UPDATE of one row through the router (primary), then a read of it, on uids of both
 *   instances; three sides in rounds (T P E T P E …, BENCH_ROUNDS 3 × BENCH_PAIRS 300 pairs per
 *   side and round, BENCH_PACE_MS (5) apart: a write rate MySQL's applier keeps up with while it
 *   is paused ~95 % of the time — unpaced, it falls seconds behind and the replica is skipped): T = the read `after` the write's token (replica, waiting for it on the
 *   server when needed), P = the read on the primary, E = the read with consistency `replica` and
 *   no token (eventual);
 * - ryw_wait_p50_ms / ryw_wait_p99_ms: p50 / p99 of the T reads' latency minus the same quantile
 *   of the P reads (the wait a token costs on a replica ~100 ms behind); stale_reads_with_token
 *   (T reads that did not see their write: must be 0); stale_read_rate_eventual (E reads that did
 *   not); per side: latency quantiles, where reads were served, client CPU per pair (the token
 *   side's pairs last ~100 ms, so the router's lag monitor — a probe per node every 100 ms here —
 *   weighs on its CPU per pair), host busy;
 * - planned_failover_write_pause_ms: the longest gap between two acknowledged inserts of this
 *   router (default settings) into shard-1 (MySQL) and shard-3 (MariaDB) while `shardline failover --planned` moves
 *   their writes to the replica and back, from another process (inserts the fenced node refuses
 *   are retried);
 * - cdc_duplicates_after_failover: a `shardline cdc` worker of the bench's own runs through those
 *   failovers (it follows each to the node that takes writes, resuming by GTID set); the source
 *   transactions of the failovers' inserts and deletes it published more than once (by GTID,
 *   table, row key and operation; read_committed): must be 0.
 *
 * The applier is paused from a child process, so its CPU is not counted as the client's.
 *
 * Environment: BENCH_ROUNDS, BENCH_PAIRS, BENCH_LAG_MS, BENCH_RUN_MS. Progress on stderr; last
 * stdout line: one JSON object.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { createRouter, loadClusterConfig, type Router, type WriteResult } from 'shardline';
import { bundledClusterConfig, parseClusterConfig } from 'shardline/config';
import { onCluster } from './cluster.js';
import { FailoverCdc } from './failover-cdc.js';
import { hostSpan, median, round, spread } from './stats.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ROUNDS = env('BENCH_ROUNDS', 3);
const PAIRS = env('BENCH_PAIRS', 300);
const LAG_MS = env('BENCH_LAG_MS', 100);
const RUN_MS = env('BENCH_RUN_MS', 5);
const PACE_MS = env('BENCH_PACE_MS', 5);
const INSTANCES = ['shard-0', 'shard-2'];
const log = (m: string) => process.stderr.write(`[bench:replica] ${m}\n`);

type Side = 'token' | 'primary' | 'eventual';
interface SideStats {
  ms: number[];
  stale: number;
  onReplica: number;
  cpuUs: number;
  pairs: number;
  busy: number[];
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN;
};

await onCluster(async () => {
  const base = loadClusterConfig(bundledClusterConfig);
  const config = parseClusterConfig({ ...structuredClone(base), router: { ...base.router, replicaCheckMs: 100 } });
  const replicaIds = new Set(config.instances.flatMap((i) => (i.replicas ?? []).map((r) => r.serverId)));
  const registry = new Registry();
  const router: Router = await createRouter({ config, registry });
  const uids: bigint[] = [];
  for (let u = 9_170_000_000_000_000n; uids.length < 64; u++) if (INSTANCES.includes(router.topology.locate(u).instance)) uids.push(u);
  for (const uid of uids)
    await router.query('REPLACE INTO users (uid, name, email, balance) VALUES (?, ?, ?, ?)', [uid, 'bench', 'b@example.com', '0.00']);

  // hold the two replicas ~LAG_MS behind, from a process of its own (its CPU is not the client's)
  const lagger = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import mysql from 'mysql2/promise';
const nodes = JSON.parse(process.argv[1]);
const admins = await Promise.all(nodes.map(async (n) => ({ ...n, c: await mysql.createConnection({ host: n.host, port: n.port, user: 'root', password: '' }) })));
let on = true;
process.on('SIGTERM', () => { on = false; });
while (on) {
  await Promise.all(admins.map((a) => a.c.query(a.stop)));
  await new Promise((r) => setTimeout(r, ${LAG_MS}));
  await Promise.all(admins.map((a) => a.c.query(a.start)));
  await new Promise((r) => setTimeout(r, ${RUN_MS}));
}
await Promise.all(admins.map((a) => a.c.query(a.start).then(() => a.c.end())));`,
      JSON.stringify(
        INSTANCES.map((name) => {
          const inst = config.instances.find((i) => i.name === name)!;
          const r = inst.replicas![0]!;
          const [stop, start] =
            inst.flavour === 'mysql'
              ? ['STOP REPLICA SQL_THREAD', 'START REPLICA SQL_THREAD']
              : ['STOP SLAVE SQL_THREAD', 'START SLAVE SQL_THREAD'];
          return { host: r.host, port: r.port, stop, start };
        }),
      ),
    ],
    { cwd: path.resolve(import.meta.dirname, '..', '..'), stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const laggerExit = new Promise((resolve) => lagger.once('exit', resolve));

  const stats: Record<Side, SideStats> = {
    token: { ms: [], stale: 0, onReplica: 0, cpuUs: 0, pairs: 0, busy: [] },
    primary: { ms: [], stale: 0, onReplica: 0, cpuUs: 0, pairs: 0, busy: [] },
    eventual: { ms: [], stale: 0, onReplica: 0, cpuUs: 0, pairs: 0, busy: [] },
  };
  const readSql = 'SELECT @@server_id AS sid, name FROM users WHERE uid = ?';
  let n = 0;
  const runSide = async (side: Side) => {
    const s = stats[side];
    const span = hostSpan();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < PAIRS; i++) {
      const uid = uids[n++ % uids.length]!;
      const v = `v${n}`;
      const w = (await router.query('UPDATE users SET name = ? WHERE uid = ?', [v, uid])) as WriteResult;
      const t0 = performance.now();
      const rows = await router.select<{ sid: number | bigint; name: string }>(
        readSql,
        [uid],
        side === 'token' ? { after: w.token! } : side === 'primary' ? { consistency: 'primary' } : { consistency: 'replica' },
      );
      s.ms.push(performance.now() - t0);
      if (rows[0]!.name !== v) s.stale++;
      if (replicaIds.has(Number(rows[0]!.sid))) s.onReplica++;
      await sleep(PACE_MS);
    }
    const cpu = process.cpuUsage(cpu0);
    s.cpuUs += cpu.user + cpu.system;
    s.pairs += PAIRS;
    s.busy.push(span().host_busy_pct);
  };
  try {
    await sleep(1000);
    for (let r = 0; r < ROUNDS; r++) {
      for (const side of ['token', 'primary', 'eventual'] as const) await runSide(side);
      log(
        `round ${r + 1}/${ROUNDS}: token p50 ${round(median(stats.token.ms), 2)} ms, primary p50 ${round(median(stats.primary.ms), 2)} ms`,
      );
    }
  } finally {
    lagger.kill('SIGTERM');
    await laggerExit;
  }
  // planned failover and back on a MySQL and a MariaDB instance under the insert loop of a router
  // with the default settings (router.replicaCheckMs 250: how soon it sees the new primary)
  const pauses: Record<string, number[]> = {};
  const defaults = await createRouter(base);
  const cdc = await FailoverCdc.start(log);
  let cdcCount: Awaited<ReturnType<FailoverCdc['duplicates']>>;
  try {
    const written: bigint[] = [];
    for (const instance of ['shard-1', 'shard-3']) {
      const replica = config.instances.find((i) => i.name === instance)!.replicas![0]!.name;
      pauses[instance] = [];
      for (const to of [replica, instance]) {
        const { gapMs, acked } = await failoverPause(defaults, instance, to);
        pauses[instance].push(gapMs);
        written.push(...acked);
      }
      log(`failover of ${instance} and back: longest gap between acknowledged inserts ${pauses[instance].join(' / ')} ms`);
    }
    cdcCount = await cdc.duplicates(written);
    log(
      `cdc through the failovers: ${cdcCount.events} change events of ${cdcCount.expected} expected, ${cdcCount.duplicates} published twice`,
    );
  } finally {
    await cdc.stop();
    await defaults.close();
    for (const uid of uids) await router.query('DELETE FROM users WHERE uid = ?', [uid]).catch(() => undefined);
    await router.close();
  }
  const summary = (s: SideStats) => ({
    pairs: s.pairs,
    p50_ms: round(quantile(s.ms, 0.5), 2),
    p90_ms: round(quantile(s.ms, 0.9), 2),
    p99_ms: round(quantile(s.ms, 0.99), 2),
    stale: s.stale,
    served_by_replica_pct: round((s.onReplica / s.pairs) * 100),
    client_cpu_us_per_pair: round(s.cpuUs / s.pairs),
    host_busy_pct: spread(s.busy),
  });
  const outcomes: Record<string, number> = {};
  for (const v of (await registry.getSingleMetric('shardline_router_replica_reads_total')!.get()).values)
    outcomes[`${String(v.labels['instance'])}:${String(v.labels['outcome'])}`] = v.value;
  log(`where reads that could use a replica went: ${JSON.stringify(outcomes)}`);
  const result = {
    ryw_wait_p50_ms: round(quantile(stats.token.ms, 0.5) - quantile(stats.primary.ms, 0.5), 2),
    ryw_wait_p99_ms: round(quantile(stats.token.ms, 0.99) - quantile(stats.primary.ms, 0.99), 2),
    stale_reads_with_token: stats.token.stale,
    stale_read_rate_eventual: round(stats.eventual.stale / stats.eventual.pairs, 3),
    planned_failover_write_pause_ms: Math.max(...Object.values(pauses).flat()),
    cdc_duplicates_after_failover: cdcCount.events >= cdcCount.expected ? cdcCount.duplicates : null,
    cdc_events_after_failover: cdcCount.events,
    failover_pauses_ms: pauses,
    lag_ms: LAG_MS,
    rounds: ROUNDS,
    sides: { token: summary(stats.token), primary: summary(stats.primary), eventual: summary(stats.eventual) },
    replica_read_outcomes: outcomes,
  };
  log(JSON.stringify(result.sides));
  process.stdout.write(`${JSON.stringify(result)}\n`);
});

/**
 * The longest gap (ms) between two acknowledged inserts into `instance` while `shardline failover
 * --planned --to <to>` runs in another process (inserts refused by the fenced node are retried),
 * and the uids of the inserts acknowledged (deleted again before it returns).
 */
async function failoverPause(router: Router, instance: string, to: string): Promise<{ gapMs: number; acked: bigint[] }> {
  const uids: bigint[] = [];
  for (let u = 9_175_000_000_000_000n + BigInt(Date.now() % 1_000_000) * 100_000n; uids.length < 50_000; u++)
    if (router.topology.locate(u).instance === instance) uids.push(u);
  let running = true;
  let maxGap = 0;
  let retried = 0;
  const acked: bigint[] = [];
  const writer = (async () => {
    let last = performance.now();
    for (let i = 0; running && i < uids.length; i++) {
      for (;;) {
        try {
          await router.query('INSERT INTO users (uid, name) VALUES (?, ?)', [uids[i]!, 'failover']);
          acked.push(uids[i]!);
          break;
        } catch (err) {
          if (!(err as { retriable?: boolean }).retriable) throw err;
          retried++;
          await sleep(2);
        }
      }
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }
  })();
  await sleep(1000);
  const cli = path.resolve(import.meta.dirname, '..', '..', 'dist/cli/main.js');
  const done = await new Promise<number | null>((resolve) =>
    spawn(process.execPath, [cli, 'failover', '--instance', instance, '--to', to, '--planned', '--json'], { stdio: 'ignore' }).once(
      'exit',
      resolve,
    ),
  );
  await sleep(1000);
  running = false;
  await writer;
  for (let i = 0; i < acked.length; i += 500) await router.query(`DELETE FROM users WHERE uid IN (${acked.slice(i, i + 500).join(',')})`);
  if (done !== 0) throw new Error(`shardline failover --instance ${instance} --to ${to} exited with ${done}`);
  log(`${instance} → ${to}: ${acked.length} inserts, ${retried} retried, longest gap ${Math.round(maxGap)} ms`);
  return { gapMs: Math.round(maxGap), acked };
}
