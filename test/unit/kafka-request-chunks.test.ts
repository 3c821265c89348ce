import { chunkByPartitionBytes, recordBytes, recordBytesBound } from '../../src/cdc/kafka/request-chunks.js';

interface R {
  p: string;
  n: number;
  id: number;
}

const chunk = (records: R[], limit: number) =>
  chunkByPartitionBytes(
    records,
    (r) => r.n,
    (r) => r.p,
    limit,
  ).map((c) => c.map((r) => r.id));

const records = (spec: [string, number][]): R[] => spec.map(([p, n], id) => ({ p, n, id }));

describe('chunkByPartitionBytes', () => {
  it('keeps everything in one request while every partition stays within the limit', () => {
    expect(
      chunk(
        records([
          ['a', 40],
          ['b', 60],
          ['a', 60],
          ['b', 40],
        ]),
        100,
      ),
    ).toEqual([[0, 1, 2, 3]]);
  });

  it('starts a new request when a partition would go over, keeping the send order', () => {
    expect(
      chunk(
        records([
          ['a', 60],
          ['b', 10],
          ['a', 50],
          ['b', 10],
          ['a', 60],
        ]),
        100,
      ),
    ).toEqual([[0, 1], [2, 3], [4]]);
  });

  it('sends a record larger than the limit alone in its partition, and nothing is dropped', () => {
    const rs = records([
      ['a', 10],
      ['a', 500],
      ['a', 10],
      ['b', 5],
      ['a', 500],
    ]);
    const out = chunk(rs, 100);
    expect(out).toEqual([[0], [1], [2, 3], [4]]);
    expect(out.flat()).toEqual(rs.map((r) => r.id));
  });

  it('bounds every partition of every request for 200 partitions and 20,000 records of random sizes', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const rs = records(
      Array.from({ length: 20_000 }, () => [`t-${Math.floor(rand() * 200)}`, 1 + Math.floor(rand() * 3000)] as [string, number]),
    );
    const limit = 64 * 1024;
    const out = chunkByPartitionBytes(
      rs,
      (r) => r.n,
      (r) => r.p,
      limit,
    );
    expect(out.flat().map((r) => r.id)).toEqual(rs.map((r) => r.id));
    for (const c of out) {
      const per = new Map<string, number>();
      for (const r of c) per.set(r.p, (per.get(r.p) ?? 0) + r.n);
      for (const bytes of per.values()) expect(bytes).toBeLessThanOrEqual(limit);
    }
  });

  it('makes no request of nothing', () => {
    expect(chunk([], 100)).toEqual([]);
  });
});

describe('recordBytes', () => {
  it('counts UTF-8 bytes of key, value and headers, plus framing', () => {
    const plain = recordBytes({ key: null, value: null });
    expect(plain).toBeGreaterThan(0);
    expect(recordBytes({ key: 'k', value: 'v' })).toBe(plain + 2);
    expect(recordBytes({ key: null, value: '€€' })).toBe(plain + 6);
    expect(recordBytes({ key: null, value: Buffer.alloc(10) })).toBe(plain + 10);
    const withHeader = recordBytes({ key: null, value: null, headers: { op: 'c' } });
    expect(withHeader).toBeGreaterThan(plain + 3);
  });
});

describe('recordBytesBound', () => {
  it('is never below the exact size, whatever the characters', () => {
    for (const value of ['', 'ascii', 'é', '€€€', '😀😀', '\u0000', 'mixed é € 😀 text'.repeat(50)]) {
      const r = { key: value.slice(0, 3), value, headers: { previous_key: value } };
      expect(recordBytesBound(r)).toBeGreaterThanOrEqual(recordBytes(r));
    }
    expect(recordBytesBound({ key: null, value: Buffer.alloc(100) })).toBe(recordBytes({ key: null, value: Buffer.alloc(100) }));
  });
});
