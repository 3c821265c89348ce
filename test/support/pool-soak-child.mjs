// A router soak in its own process (started with --expose-gc by test/integration/pool-soak.test.ts):
// point reads and upserts through the built router (dist/) at a fixed concurrency, the heap used
// after a forced GC measured after a warm-up and again at the end. Prints one JSON line.
import { setImmediate } from 'node:timers';
import { createRouter } from '../../dist/index.js';
import { bundledClusterConfig, loadClusterConfig } from '../../dist/config/index.js';

const [warmupArg, queriesArg, secondsArg, concurrencyArg] = process.argv.slice(2);
const warmup = Number(warmupArg);
const maxQueries = Number(queriesArg);
const maxSeconds = Number(secondsArg);
const concurrency = Number(concurrencyArg);
const rows = 2000;
const base = 9_170_000_000n;

async function heapAfterGc() {
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

const router = await createRouter(loadClusterConfig(process.env.SHARDLINE_CONFIG || bundledClusterConfig));
let n = 0;
async function one() {
  const k = n++;
  const uid = base + BigInt(k % rows);
  if (k % 4 === 0) {
    await router.query(
      'INSERT INTO users (uid, name, balance) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE name = VALUES(name), balance = VALUES(balance)',
      [uid, `soak ${k % 97}`, `${k % 1000}.25`],
    );
  } else {
    await router.select('SELECT uid, name, balance FROM users WHERE uid = ?', [uid]);
  }
}
async function run(count, deadline) {
  const target = n + count;
  const worker = async () => {
    while (n < target && Date.now() < deadline) await one();
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

try {
  await run(warmup, Number.POSITIVE_INFINITY);
  const heapStart = await heapAfterGc();
  const startN = n;
  const t0 = Date.now();
  await run(maxQueries, t0 + maxSeconds * 1000);
  const durationMs = Date.now() - t0;
  const queries = n - startN;
  const heapEnd = await heapAfterGc();
  // The router's own background reads (shard-map watcher, every second on each instance) borrow
  // for a moment: wait up to 2 s for the pools to be idle; a leaked borrow never returns.
  let pools = router.health().map((h) => h.pool);
  for (let i = 0; i < 40 && pools.some((p) => p.borrowed > 0 || p.pending > 0); i++) {
    await new Promise((r) => setTimeout(r, 50));
    pools = router.health().map((h) => h.pool);
  }
  process.stdout.write(
    `${JSON.stringify({ queries, durationMs, heapStart, heapEnd, bytesPerQuery: (heapEnd - heapStart) / queries, pools })}\n`,
  );
} finally {
  await router
    .query(`DELETE FROM users WHERE uid BETWEEN ? AND ?`, [base, base + BigInt(rows - 1)], { scatter: true })
    .catch((err) => process.stderr.write(`cleanup: ${err.message}\n`));
  await router.close();
}
