import type { Router } from '../../src/index.js';

/**
 * Connections borrowed per instance once the router's background reads are done. The shard-map
 * watcher borrows one connection on every instance each `router.shardMapCheckMs` for a few
 * milliseconds, so a single look can catch it: this polls until no instance has a borrowed
 * connection or `maxMs` passed, and returns the last counts (a leaked connection stays counted).
 */
export async function settledBorrowed(router: Router, maxMs = 3000): Promise<number[]> {
  const counts = () => router.health().map((h) => h.pool.borrowed);
  for (const deadline = Date.now() + maxMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 5))) {
    if (counts().every((n) => n === 0)) break;
  }
  return counts();
}
