import type { Router } from '../../src/index.js';

/**
 * Connections borrowed per instance once the router's background reads are done. The shard-map
 * watcher borrows one connection on every instance each `router.shardMapCheckMs` for a few
 * milliseconds, so a single look can catch it: this polls until no instance has a borrowed
 * connection or `maxMs` passed, and returns the last counts (a leaked connection stays counted).
 */
export async function settledBorrowed(router: Router, maxMs = 3000): Promise<number[]> {
  const deadline = Date.now() + maxMs;
  let counts = router.health().map((h) => h.pool.borrowed);
  while (counts.some((n) => n > 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
    counts = router.health().map((h) => h.pool.borrowed);
  }
  return counts;
}
