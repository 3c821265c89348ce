import { ChunkPacer } from '../../src/cdc/snapshot/chunk-pacer.js';

/** Start times of `chunks` reads of `rows` rows each, read instantly, starting at `from`. */
const starts = (p: ChunkPacer, from: number, chunks: number, rows: number): number[] => {
  const out: number[] = [];
  let now = from;
  for (let i = 0; i < chunks; i++) {
    now += p.delay(now);
    out.push(now);
    p.book(now, rows);
  }
  return out;
};

describe('ChunkPacer', () => {
  it('without a limit never waits', () => {
    const p = new ChunkPacer(null);
    expect(starts(p, 0, 3, 1_000_000)).toEqual([0, 0, 0]);
  });

  it('spaces chunks by the rows they returned: 200-row chunks at 2,000 rows/s start every 100 ms', () => {
    expect(starts(new ChunkPacer(2000), 1000, 4, 200)).toEqual([1000, 1100, 1200, 1300]);
  });

  it('charges nothing for empty chunks (a shard table without rows)', () => {
    expect(starts(new ChunkPacer(2000), 0, 5, 0)).toEqual([0, 0, 0, 0, 0]);
  });

  it('does not make up for time it fell behind with a burst (the limit holds over every window)', () => {
    const p = new ChunkPacer(2000);
    p.book(0, 200);
    // a 10 s stall (slow commit, paused process): an average-rate throttle would now allow ~100 chunks at once
    const s = starts(p, 10_000, 10, 200);
    expect(s).toEqual([10_000, 10_100, 10_200, 10_300, 10_400, 10_500, 10_600, 10_700, 10_800, 10_900]);
    expect(s.filter((t) => t < 11_000).length * 200).toBeLessThanOrEqual(2000);
  });

  it('a read that takes longer than its rows’ share of time adds no wait after it', () => {
    const p = new ChunkPacer(2000);
    p.book(0, 200); // due at 100
    expect(p.delay(250)).toBe(0); // the read itself took 250 ms
  });
});
