/* global structuredClone */
// A router in a process of its own running a read/write workload on every shard until told to
// stop (stdin 'stop'), through shard moves: no retry of its own — a request that throws is a
// failed request. argv: the dist folder, the first uid, the shards that move (`768-831,256-319`),
// 'trace' (record every request), a probe interval in ms (besides the loop, an increment of a row
// on a moving shard is started every that many ms without waiting for the last: an open-loop
// writer, so a write fence shows in the latency of every write that arrives during it).
// Prints 'ready', then one JSON line at the end: { requests, failed, errors: { code: n },
// lastError, expected: { uid: balance in cents } (every acknowledged insert and increment), moving: { n, p99Ms, maxMs },
// other: { n, p99Ms, maxMs } }.
import path from 'node:path';

const [dist, first, movingText, trace, probeText] = process.argv.slice(2);
const samples = [];
const { createRouter, loadClusterConfig } = await import(path.join(dist, 'index.js'));
const { bundledClusterConfig, parseClusterConfig } = await import(path.join(dist, 'config', 'index.js'));
const base = loadClusterConfig(bundledClusterConfig);
const router = await createRouter(parseClusterConfig({ ...structuredClone(base), router: { ...base.router, shardMapCheckMs: 500 } }));
const moving = new Set(
  movingText.split(',').flatMap((r) => {
    const [a, b = a] = r.split('-').map(Number);
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  }),
);
let running = true;
process.stdin.on('data', (d) => {
  if (String(d).includes('stop')) running = false;
});
const errors = {};
let lastError = null;
let requests = 0;
let failed = 0;
const lat = { moving: [], other: [] };
const live = [];
/** uid → the balance every acknowledged write adds up to. */
const expected = new Map();
let next = BigInt(first);
const timed = async (uid, fn, write = true) => {
  const t0 = performance.now();
  requests++;
  try {
    return await fn();
  } catch (err) {
    failed++;
    errors[err.code ?? 'UNKNOWN'] = (errors[err.code ?? 'UNKNOWN'] ?? 0) + 1;
    lastError = `${err.code ?? ''} ${err.details?.errno ?? ''} ${String(err.message).slice(0, 300)}`;
    return undefined;
  } finally {
    const ms = performance.now() - t0;
    const mv = moving.has(router.topology.shardOf(uid));
    lat[mv ? 'moving' : 'other'].push(ms);
    if (trace) samples.push([Math.round(performance.timeOrigin + t0), Math.round(ms * 10) / 10, mv ? 1 : 0, write ? 1 : 0]);
  }
};
const liveMoving = [];
const probes = new Set();
const probeMs = Number(probeText ?? 0);
const probe =
  probeMs > 0
    ? setInterval(() => {
        if (!liveMoving.length) return;
        const uid = liveMoving[Math.floor(Math.random() * liveMoving.length)];
        const p = timed(uid, () => router.query('UPDATE users SET balance = balance + 1 WHERE uid = ?', [uid])).then((ok) => {
          if (ok !== undefined) expected.set(String(uid), expected.get(String(uid)) + 100);
        });
        probes.add(p);
        void p.finally(() => probes.delete(p));
      }, probeMs)
    : null;
process.stdout.write('ready\n');
for (let i = 0; running; i++) {
  const op = i % 4;
  if (op === 0 || live.length < 50) {
    const uid = next++;
    const ok = await timed(uid, () =>
      router.query('INSERT INTO users (uid, name, email, balance) VALUES (?, ?, ?, ?)', [uid, `rw-${i}`, 'w@example.com', '1.00']),
    );
    if (ok !== undefined) {
      live.push(uid);
      if (moving.has(router.topology.shardOf(uid))) liveMoving.push(uid);
      expected.set(String(uid), 100);
    }
  } else if (op === 1) {
    const uid = live[Math.floor(Math.random() * live.length)];
    const ok = await timed(uid, () => router.query('UPDATE users SET balance = balance + 1, updated_at = NOW(6) WHERE uid = ?', [uid]));
    if (ok !== undefined) expected.set(String(uid), expected.get(String(uid)) + 100);
  } else if (op === 2) {
    const uid = live[Math.floor(Math.random() * live.length)];
    await timed(uid, () => router.select('SELECT uid, name, balance FROM users WHERE uid = ?', [uid]), false);
  } else {
    const uid = live[Math.floor(Math.random() * live.length)];
    await timed(uid, () =>
      router.forUid(uid).transaction(async (tx) => {
        await tx.query(
          'INSERT INTO orders (uid, order_id, amount, status) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE amount = amount + 1',
          [uid, BigInt(i), '2.00', 'new'],
        );
        await tx.query('UPDATE users SET name = ? WHERE uid = ?', [`tx-${i}`, uid]);
      }),
    );
  }
}
if (probe) clearInterval(probe);
await Promise.all(probes);
process.stdin.destroy(); // its 'data' listener would keep the process alive after the report
await router.close();
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p99Ms: Math.round(s[Math.floor(s.length * 0.99)] ?? 0), maxMs: Math.round(s.at(-1) ?? 0) };
};
process.stdout.write(
  `${JSON.stringify({ requests, failed, errors, lastError, expected: Object.fromEntries(expected), moving: stats(lat.moving), other: stats(lat.other), cpuUs: process.cpuUsage().user + process.cpuUsage().system, ...(trace ? { samples } : {}) })}\n`,
);
