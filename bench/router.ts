/**
 * npm run bench:router — routed point SELECT vs a direct mysql2 pool (same physical table, same
 * pool size, concurrency 32), router CPU per query on a plan-cache hit, and scatter COUNT(*)
 * batched per instance vs one query per physical table. Last line: one JSON object.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { createRouter, loadClusterConfig, resolveConfigPath } from 'shardline';
import { withCluster } from './cluster.js';

const CONCURRENCY = 32;
const ROUND_MS = Number(process.env['BENCH_ROUND_MS'] ?? 3000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const UID = 42n;

async function throughput(call: () => Promise<unknown>, ms: number): Promise<number> {
  let count = 0;
  const deadline = performance.now() + ms;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        await call();
        count++;
      }
    }),
  );
  return count / (ms / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await withCluster(async () => {
  const root = path.resolve(import.meta.dirname, '..', '..');
  execFileSync(process.execPath, [path.join(root, 'dist/cli/main.js'), 'migrate'], { stdio: 'ignore' });
  const config = loadClusterConfig(
    resolveConfigPath(process.env['SHARDLINE_CONFIG'] ? undefined : new URL('../../examples/local-cluster.yaml', import.meta.url).pathname),
  );
  const router = await createRouter(config);
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
  const routedQps: number[] = [];
  const directQps: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    directQps.push(await throughput(plain, ROUND_MS));
    routedQps.push(await throughput(routed, ROUND_MS));
  }
  const ratio = median(routedQps) / median(directQps);
  console.log(
    `point select (${physical} on ${inst.name}), concurrency ${CONCURRENCY}, pool ${config.pool.max}: routed ${median(routedQps).toFixed(0)}/s, direct ${median(directQps).toFixed(0)}/s, ratio ${ratio.toFixed(3)}`,
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
  const perTable = async () => Promise.all([...uidForShard.values()].map((u) => router.forUid(u).query('SELECT COUNT(*) AS n FROM users')));
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
  const insertMs: number[] = [];
  await router.query(clearSql, insertUids);
  for (let i = 0; i < 3 + 15; i++) {
    const t0 = performance.now();
    await router.query(insertSql, insertValues);
    if (i >= 3) insertMs.push(performance.now() - t0);
    await router.query(clearSql, insertUids);
  }
  const insertSorted = [...insertMs].sort((a, b) => a - b);
  console.log(
    `100-row INSERT on 100 shards (${insertMs.length} rounds after 3 warm-up): median ${median(insertMs).toFixed(1)} ms, min ${insertSorted[0]!.toFixed(1)}, max ${insertSorted[insertSorted.length - 1]!.toFixed(1)} ms`,
  );

  await direct.end();
  await router.close();
  console.log(
    JSON.stringify({
      multi_shard_insert_100_ms: Number(median(insertMs).toFixed(1)),
      multi_shard_insert_100_spread_ms: [Number(insertSorted[0]!.toFixed(1)), Number(insertSorted[insertSorted.length - 1]!.toFixed(1))],
      ratio_vs_direct: Number(ratio.toFixed(3)),
      cpu_us_per_query: Number(cpuUs.toFixed(2)),
      scatter_speedup: Number(speedup.toFixed(1)),
      routed_qps: Math.round(median(routedQps)),
      direct_qps: Math.round(median(directQps)),
      scatter_batched_ms: Number(batchedMs.toFixed(1)),
      scatter_per_table_ms: Number(perTableMs.toFixed(1)),
    }),
  );
});
