import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { shardline } from '../support/cluster.js';

// The router must not keep anything per query: point reads and upserts through the built router
// in a child process with --expose-gc, heap used after a forced GC compared between the end of a
// warm-up and the end of the run. Before the fix every borrow left a never-settled promise and
// its closures behind (about 700 bytes per query).
const child = fileURLToPath(new URL('../support/pool-soak-child.mjs', import.meta.url));

interface SoakResult {
  queries: number;
  durationMs: number;
  heapStart: number;
  heapEnd: number;
  bytesPerQuery: number;
  pools: { borrowed: number; pending: number }[];
}

beforeAll(() => {
  shardline('migrate');
});

describe('router soak', () => {
  it('keeps the heap flat over tens of thousands of queries at concurrency 32', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', child, '5000', '300000', '50', '32'], {
      encoding: 'utf8',
      timeout: 110_000,
      killSignal: 'SIGKILL',
    });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    const out = JSON.parse(r.stdout.trim()) as SoakResult;
    process.stdout.write(
      `pool soak: ${out.queries} queries in ${out.durationMs} ms, heap ${(out.heapStart / 1e6).toFixed(1)} → ${(out.heapEnd / 1e6).toFixed(1)} MB (${out.bytesPerQuery.toFixed(1)} B/query)\n`,
    );
    // Enough queries that 700 B/query would show as tens of MB.
    expect(out.queries).toBeGreaterThanOrEqual(20_000);
    expect(out.heapEnd - out.heapStart).toBeLessThan(Math.max(2_000_000, 20 * out.queries));
    for (const p of out.pools) expect(p).toMatchObject({ borrowed: 0, pending: 0 });
  }, 180_000);
});
