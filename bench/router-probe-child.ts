/**
 * Child process of `npm run bench:snapshot`: the application whose latency a snapshot must not
 * hurt — router point SELECTs by uid on the users shards of one instance (two loops, 2 ms pause),
 * in a process of its own so the bench's own work (metrics scraping, logging) never sits in its
 * event loop. IPC: `{ type: 'drain' }` → `{ type: 'samples', ms: number[], errors }` (latencies
 * since the last drain); `{ type: 'stop' }` → exits. Argument: the instance name.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createRouter } from 'shardline';
import { bundledClusterConfig } from 'shardline/config';
import { loadClusterConfig } from 'shardline';

const instance = process.argv[2] ?? 'shard-0';
const router = await createRouter(loadClusterConfig(bundledClusterConfig));
const uids: bigint[] = [];
for (let u = 10_000_000_000n; uids.length < 5000; u++)
  if (router.topology.map.instanceOf(router.topology.shardOf(u)) === instance) uids.push(u);

let samples: number[] = [];
let errors = 0;
let running = true;
const loops = [0, 1].map(async (k) => {
  let i = k;
  while (running) {
    const uid = uids[(i += 2) % uids.length]!;
    const t = performance.now();
    try {
      await router.query('SELECT uid, name FROM users WHERE uid = ?', [uid]);
      samples.push(performance.now() - t);
    } catch (err) {
      if (errors++ < 3) process.stderr.write(`[router probe] ${(err as Error).message}\n`);
    }
    await sleep(2);
  }
});

process.on('message', (m: { type: string }) => {
  if (m.type === 'drain') {
    process.send!({ type: 'samples', ms: samples, errors });
    samples = [];
  } else if (m.type === 'stop') {
    running = false;
    void Promise.all(loops)
      .then(() => router.close())
      .then(() => process.exit(0));
  }
});
// The bench died without stopping it (crash, Ctrl-C): go too.
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
