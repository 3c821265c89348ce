/* global structuredClone */
// A router in a process of its own writing to and reading from one instance until told to stop
// (stdin 'stop'), through a failover: every write is retried while its error is retriable (the
// fenced primary answers 1290), so it is acknowledged exactly once. stdin 'mark' prints
// 'mark <n>': how many writes were acknowledged so far. Prints one JSON line at the end:
// { acked: [uid…], errors: { code: n }, lastError, fatal: [message…], maxGapMs, reads, readFailures }.
// argv: the dist folder, the instance name, the first uid.
import path from 'node:path';

const [dist, instance, first] = process.argv.slice(2);
const { createRouter, loadClusterConfig } = await import(path.join(dist, 'index.js'));
const { bundledClusterConfig, parseClusterConfig } = await import(path.join(dist, 'config', 'index.js'));
const base = loadClusterConfig(bundledClusterConfig);
const router = await createRouter(parseClusterConfig({ ...structuredClone(base), router: { ...base.router, replicaCheckMs: 100 } }));
const uids = [];
for (let u = BigInt(first); uids.length < 20000; u++) if (router.topology.locate(u).instance === instance) uids.push(u);

let running = true;
const acked = [];
process.stdin.on('data', (d) => {
  if (String(d).includes('mark')) process.stdout.write(`mark ${acked.length}\n`);
  if (String(d).includes('stop')) running = false;
});
const errors = {};
const fatal = [];
let lastError = null;
let last = performance.now();
let maxGapMs = 0;
let reads = 0;
let readFailures = 0;
process.stdout.write('ready\n');
for (let i = 0; running && i < uids.length; i++) {
  const uid = uids[i];
  const since = performance.now();
  for (;;) {
    try {
      await router.query('INSERT INTO users (uid, name, email, balance) VALUES (?, ?, ?, ?)', [uid, `fo-${i}`, 'f@example.com', '1.00']);
      acked.push(String(uid));
      const now = performance.now();
      maxGapMs = Math.max(maxGapMs, now - last);
      last = now;
      break;
    } catch (err) {
      errors[err.code ?? 'UNKNOWN'] = (errors[err.code ?? 'UNKNOWN'] ?? 0) + 1;
      lastError = `${err.details?.errno ?? ''} ${String(err.message).slice(0, 200)}`;
      if (err.code === 'QUERY_FAILED' && err.details?.errno === 1062) {
        // the insert committed before its connection failed: it is acknowledged now
        acked.push(String(uid));
        break;
      }
      if (!err.retriable || performance.now() - since > 20_000) {
        fatal.push(`${err.retriable ? 'still failing after 20 s: ' : ''}${String(err.message).slice(0, 300)}`);
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  try {
    await router.select('SELECT name FROM users WHERE uid = ?', [uids[Math.floor(Math.random() * (i + 1))]], { consistency: 'replica' });
    reads++;
  } catch {
    readFailures++;
  }
}
await router.close();
process.stdout.write(`${JSON.stringify({ acked, errors, lastError, fatal, maxGapMs: Math.round(maxGapMs), reads, readFailures })}\n`);
