/**
 * npm run bench:pool — the cost of a borrow-time liveness check (native idle watch + probe vs a
 * mysql2 ping round trip) and how fast a silent partition is noticed (native vs JS fallback).
 * Needs root for the network namespaces. Last line: one JSON object.
 */
import { loadClusterConfig, resolveConfigPath } from 'shardline';
import { createJsSocketLayer, loadSocketLayer, openDbConnection, type DbConnection } from '../src/net/index.js';
import { PartitionLab } from '../test/support/partition-harness.js';
import { withCluster } from './cluster.js';

const keepAlive = { idleS: 8, intervalS: 2, count: 3, userTimeoutMs: 14000 };

await withCluster(async () => {
  const config = loadClusterConfig(
    resolveConfigPath(process.env['SHARDLINE_CONFIG'] ? undefined : new URL('../../examples/local-cluster.yaml', import.meta.url).pathname),
  );
  const inst = config.instances[2]!;
  const native = loadSocketLayer();
  if (native.kind !== 'native') throw new Error(`the native layer is not active: ${native.reason}`);
  const conns: DbConnection[] = [];
  for (let i = 0; i < 16; i++)
    conns.push(
      await openDbConnection(
        { name: inst.name, host: inst.host, port: inst.port, user: inst.user, password: inst.password },
        { layer: native, keepAlive },
      ),
    );

  /** Borrow = leave the idle watch + probe (one call); release = join it again. Timed apart. */
  const checkCost = (layer: typeof native) => {
    const watch = layer.createIdleWatch();
    conns.forEach((c) => watch.add(c.socket!, c.id));
    const rounds = 20_000;
    let alive = 0;
    let borrowNs = 0n;
    let releaseNs = 0n;
    for (let r = 0; r < rounds; r++) {
      const t0 = process.hrtime.bigint();
      for (const c of conns) if (watch.checkout(c.socket!)) alive++;
      const t1 = process.hrtime.bigint();
      for (const c of conns) watch.add(c.socket!, c.id);
      releaseNs += process.hrtime.bigint() - t1;
      borrowNs += t1 - t0;
    }
    if (alive !== rounds * conns.length) throw new Error('a live connection was reported dead');
    watch.close();
    const n = rounds * conns.length;
    return { borrowUs: Number(borrowNs) / 1000 / n, releaseUs: Number(releaseNs) / 1000 / n };
  };
  checkCost(native);
  const nativeCost = checkCost(native);
  const jsCost = checkCost(createJsSocketLayer('bench'));
  const nativeCheckUs = nativeCost.borrowUs;
  const jsCheckUs = jsCost.borrowUs;
  console.log(
    `borrow check (leave idle watch + poll/TCP_INFO probe): native ${nativeCheckUs.toFixed(3)} µs (release into the watch ${nativeCost.releaseUs.toFixed(3)} µs); JS flags ${jsCheckUs.toFixed(3)} µs`,
  );

  const pings = 3000;
  const conn = conns[0]!;
  for (let i = 0; i < 200; i++) await conn.ping();
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < pings; i++) await conn.ping();
  const pingUs = Number(process.hrtime.bigint() - t1) / 1000 / pings;
  console.log(`mysql2 ping() per borrow: ${pingUs.toFixed(1)} µs (${(pingUs / nativeCheckUs).toFixed(0)}× the native check)`);
  for (const c of conns) await c.close();

  const lab = new PartitionLab('b');
  await lab.up();
  try {
    const inflightNative = await lab.measure('native', 'inflight');
    console.log(
      `in-flight query, silent partition: native layer fails it after ${inflightNative.seconds.toFixed(1)} s (${inflightNative.detail})`,
    );
    const idleNative = await lab.measure('native', 'idle');
    console.log(`idle connection, silent partition: native idle watch reports it after ${idleNative.seconds.toFixed(1)} s`);
    const inflightJs = await lab.measure('js', 'inflight', 120);
    console.log(`in-flight query, silent partition: JS fallback fails it after ${inflightJs.seconds.toFixed(1)} s (${inflightJs.detail})`);
    console.log(
      JSON.stringify({
        native_check_us: Number(nativeCheckUs.toFixed(3)),
        ping_us: Number(pingUs.toFixed(1)),
        inflight_detect_s_native: Number(inflightNative.seconds.toFixed(1)),
        inflight_detect_s_js: Number(inflightJs.seconds.toFixed(1)),
        idle_detect_s_native: Number(idleNative.seconds.toFixed(1)),
        native_release_us: Number(nativeCost.releaseUs.toFixed(3)),
        js_check_us: Number(jsCheckUs.toFixed(3)),
      }),
    );
  } finally {
    await lab.down();
  }
});
