/**
 * npm run bench:router — routed point SELECT vs a direct mysql2 pool (same physical table, same
 * pool size, concurrency 32), router CPU per query on a plan-cache hit, and scatter COUNT(*)
 * batched per instance vs one query per physical table, and a 100-row INSERT on 100 shards
 * against its floor (the same per-instance transaction packets sent by hand on plain mysql2
 * connections; alternating rounds, client CPU of each). BENCH_REPLICAS=stopped: replication paused on
 * every replica for the run (see replication-pause.ts). Last line: one JSON object.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { createRouter, loadClusterConfig, resolveConfigPath } from 'shardline';
import { withCluster } from './cluster.js';
import { pauseReplication } from './replication-pause.js';
import { hostCpu } from './e2e-probe.js';

const CONCURRENCY = 32;
const ROUND_MS = Number(process.env['BENCH_ROUND_MS'] ?? 3000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 6);
const UID = 42n;
const REPLICAS = process.env['BENCH_REPLICAS'] ?? 'applying';
if (REPLICAS !== 'applying' && REPLICAS !== 'stopped')
  throw new Error(`BENCH_REPLICAS must be applying or stopped (got ${JSON.stringify(REPLICAS)})`);

interface Round {
  qps: number;
  /** Client CPU (user + system of this process) per query, µs. */
  cpuUs: number;
  /** Host CPU busy over the round, % of all cores. */
  hostBusy: number;
}

async function throughput(call: () => Promise<unknown>, ms: number): Promise<Round> {
  let count = 0;
  const h0 = hostCpu();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + ms;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        await call();
        count++;
      }
    }),
  );
  const elapsed = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const h1 = hostCpu();
  return {
    qps: count / (elapsed / 1000),
    cpuUs: (c.user + c.system) / count,
    hostBusy: ((h1.busy - h0.busy) / Math.max(1, h1.total - h0.total)) * 100,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await withCluster(async () => {
  const root = path.resolve(import.meta.dirname, '..', '..');
  execFileSync(process.execPath, [path.join(root, 'dist/cli/main.js'), 'migrate'], { stdio: 'ignore' });
  const config = loadClusterConfig(
    resolveConfigPath(process.env['SHARDLINE_CONFIG'] ? undefined : new URL('../../examples/local-cluster.yaml', import.meta.url).pathname),
  );
  const router = await createRouter(config);
  const paused = REPLICAS === 'stopped' ? await pauseReplication(config, (m) => process.stderr.write(`[bench:router] ${m}\n`)) : null;
  try {
    await router.query('INSERT INTO users (uid, name, email, balance) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE name = VALUES(name)', [
      UID,
      'bench',
      'bench@example.com',
      '1.00',
    ]);
    const loc = router.topology.locate(UID);
    const inst = config.instances.find((i) => i.name === loc.instance)!;
    const physical = `${loc.database}.${router.topology.names.table('users', loc.shard)}`;
    const direct = mysql.createPool({
      host: inst.host,
      port: inst.port,
      user: inst.user,
      password: inst.password,
      connectionLimit: config.pool.max,
    });
    const routedSql = 'SELECT uid, name, email, balance FROM users WHERE uid = ?';
    const directSql = `SELECT uid, name, email, balance FROM ${physical} WHERE uid = ?`;
    const routed = () => router.select(routedSql, [UID]);
    const plain = () => direct.query(directSql, [UID]);
    await throughput(routed, 1000);
    await throughput(plain, 1000);
    const routedRounds: Round[] = [];
    const directRounds: Round[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // ABAB…: the side that goes first alternates too.
      const pair = r % 2 === 0 ? [plain, routed] : [routed, plain];
      for (const side of pair) (side === plain ? directRounds : routedRounds).push(await throughput(side, ROUND_MS));
    }
    const routedQps = routedRounds.map((x) => x.qps);
    const directQps = directRounds.map((x) => x.qps);
    const ratio = median(routedQps) / median(directQps);
    const routedCpu = median(routedRounds.map((x) => x.cpuUs));
    const directCpu = median(directRounds.map((x) => x.cpuUs));
    const spread = (xs: number[]) => [Math.round(Math.min(...xs)), Math.round(Math.max(...xs))];
    const ratios = routedRounds.map((x, i) => x.qps / directRounds[i]!.qps);
    console.log(
      `point select (${physical} on ${inst.name}), concurrency ${CONCURRENCY}, pool ${config.pool.max}, ${ROUNDS} alternating rounds of ${ROUND_MS} ms: routed ${median(routedQps).toFixed(0)}/s (${spread(routedQps).join('–')}) at ${routedCpu.toFixed(1)} µs CPU/query, direct ${median(directQps).toFixed(0)}/s (${spread(directQps).join('–')}) at ${directCpu.toFixed(1)} µs CPU/query; ratio ${ratio.toFixed(3)} (per round ${ratios.map((x) => x.toFixed(2)).join(', ')}), CPU ratio ${(routedCpu / directCpu).toFixed(2)}, host ${median([...routedRounds, ...directRounds].map((x) => x.hostBusy)).toFixed(0)}% busy`,
    );

    const cpuIterations = 300_000;
    for (let i = 0; i < 20_000; i++) router.explain(routedSql, [UID]);
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < cpuIterations; i++) router.explain(routedSql, [BigInt(i)]);
    const cpu = process.cpuUsage(cpu0);
    const cpuUs = (cpu.user + cpu.system) / cpuIterations;
    console.log(`router CPU per point query on a plan-cache hit (hash + map + splice, no I/O): ${cpuUs.toFixed(2)} µs`);

    const uidForShard = new Map<number, bigint>();
    for (let u = 0n; uidForShard.size < router.topology.shardCount; u++) {
      const s = router.topology.shardOf(u);
      if (!uidForShard.has(s)) uidForShard.set(s, u);
    }
    const batched = async () => router.select('SELECT COUNT(*) AS n FROM users', [], { scatter: true });
    const perTable = async () =>
      Promise.all([...uidForShard.values()].map((u) => router.forUid(u).query('SELECT COUNT(*) AS n FROM users')));
    await batched();
    await perTable();
    const timeIt = async (fn: () => Promise<unknown>) => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await fn();
        times.push(performance.now() - t0);
      }
      return median(times);
    };
    const batchedMs = await timeIt(batched);
    const perTableMs = await timeIt(perTable);
    const speedup = perTableMs / batchedMs;
    console.log(
      `scatter COUNT(*) over 1024 shards: batched per instance ${batchedMs.toFixed(1)} ms, one query per table ${perTableMs.toFixed(1)} ms, speedup ${speedup.toFixed(1)}×`,
    );

    // A 100-row INSERT whose rows hash to 100 shards (one transaction and round trip per instance).
    const insertUids: bigint[] = [];
    const insertShards = new Set<number>();
    for (let u = 9_150_000_000n; insertUids.length < 100; u++) {
      if (insertShards.has(router.topology.shardOf(u))) continue;
      insertShards.add(router.topology.shardOf(u));
      insertUids.push(u);
    }
    const insertSql = `INSERT INTO users (uid, name, email, balance) VALUES ${insertUids.map(() => '(?, ?, ?, ?)').join(', ')}`;
    const insertValues = insertUids.flatMap((u) => [u, 'bench', 'bench@example.com', '1.00']);
    const clearSql = `DELETE FROM users WHERE uid IN (${insertUids.map(() => '?').join(', ')})`;
    // The floor, side by side: the same per-instance packets (START TRANSACTION; the plan's
    // statements; COMMIT) sent by hand on plain mysql2 connections, in parallel. Alternating rounds.
    const insertPlan = router.explain(insertSql, insertValues);
    const packets = new Map<string, { sql: string; params: unknown[] }[]>();
    for (const t of insertPlan.targets) {
      const list = packets.get(t.instance) ?? [];
      list.push({ sql: t.sql, params: t.params });
      packets.set(t.instance, list);
    }
    const floorConns = await Promise.all(
      [...packets.keys()].map(async (name) => {
        const i = config.instances.find((x) => x.name === name)!;
        const conn = await mysql.createConnection({
          host: i.host,
          port: i.port,
          user: i.user,
          password: i.password,
          multipleStatements: true,
        });
        // formatted at each call, as a caller of mysql2 would
        const text = () =>
          `START TRANSACTION; ${packets
            .get(name)!
            .map((x) => mysql.format(x.sql, x.params as never))
            .join('; ')}; COMMIT`;
        return { conn, text };
      }),
    );
    const routedInsert = () => router.query(insertSql, insertValues);
    const directInsert = () => Promise.all(floorConns.map((f) => f.conn.query(f.text())));
    const insertMs: number[] = [];
    const floorMs: number[] = [];
    const insertCpu: number[] = [];
    const floorCpu: number[] = [];
    await router.query(clearSql, insertUids);
    for (let i = 0; i < 3 + 20; i++) {
      const pair = i % 2 === 0 ? [routedInsert, directInsert] : [directInsert, routedInsert];
      for (const side of pair) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await side();
        const ms = performance.now() - t0;
        const c = process.cpuUsage(c0);
        if (i >= 3) {
          (side === routedInsert ? insertMs : floorMs).push(ms);
          (side === routedInsert ? insertCpu : floorCpu).push(c.user + c.system);
        }
        await router.query(clearSql, insertUids);
      }
    }
    await Promise.all(floorConns.map((f) => f.conn.end()));
    const insertSorted = [...insertMs].sort((a, b) => a - b);
    const floorSorted = [...floorMs].sort((a, b) => a - b);
    console.log(
      `100-row INSERT on 100 shards (${packets.size} instances, ${insertMs.length} alternating rounds after 3 warm-up): routed median ${median(insertMs).toFixed(1)} ms (${insertSorted[0]!.toFixed(1)}–${insertSorted[insertSorted.length - 1]!.toFixed(1)}) at ${(median(insertCpu) / 1000).toFixed(2)} ms client CPU; the same packets by hand on plain mysql2 connections ${median(floorMs).toFixed(1)} ms (${floorSorted[0]!.toFixed(1)}–${floorSorted[floorSorted.length - 1]!.toFixed(1)}) at ${(median(floorCpu) / 1000).toFixed(2)} ms`,
    );

    await direct.end();
    await router.close();
    console.log(
      JSON.stringify({
        multi_shard_insert_100_ms: Number(median(insertMs).toFixed(1)),
        multi_shard_insert_100_spread_ms: [Number(insertSorted[0]!.toFixed(1)), Number(insertSorted[insertSorted.length - 1]!.toFixed(1))],
        multi_shard_insert_100_client_cpu_ms: Number((median(insertCpu) / 1000).toFixed(2)),
        multi_shard_insert_100_floor_ms: Number(median(floorMs).toFixed(1)),
        multi_shard_insert_100_floor_spread_ms: [
          Number(floorSorted[0]!.toFixed(1)),
          Number(floorSorted[floorSorted.length - 1]!.toFixed(1)),
        ],
        ratio_vs_direct: Number(ratio.toFixed(3)),
        ratio_vs_direct_per_round: ratios.map((x) => Number(x.toFixed(3))),
        client_cpu_ratio_vs_direct: Number((routedCpu / directCpu).toFixed(2)),
        routed_cpu_us_per_query: Number(routedCpu.toFixed(1)),
        direct_cpu_us_per_query: Number(directCpu.toFixed(1)),
        host_busy_pct: Math.round(median([...routedRounds, ...directRounds].map((x) => x.hostBusy))),
        cpu_us_per_query: Number(routedCpu.toFixed(1)),
        planner_cpu_us_per_query: Number(cpuUs.toFixed(2)),
        scatter_speedup: Number(speedup.toFixed(1)),
        routed_qps: Math.round(median(routedQps)),
        direct_qps: Math.round(median(directQps)),
        routed_qps_spread: spread(routedQps),
        direct_qps_spread: spread(directQps),
        scatter_batched_ms: Number(batchedMs.toFixed(1)),
        scatter_per_table_ms: Number(perTableMs.toFixed(1)),
        replicas: paused ? { mode: 'stopped', stopped: paused.stopped } : { mode: 'applying' },
      }),
    );
  } finally {
    await paused?.resume();
  }
});
