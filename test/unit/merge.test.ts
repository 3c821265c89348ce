import { addDecimal, compareDecimal, compareValues, kWayMerge, mergeGrouped, mergeResults } from '../../src/executor/index.js';

describe('decimal arithmetic on strings', () => {
  it.each([
    ['1.50', '2.25', '3.75'],
    ['-0.75', '0.75', '0.00'],
    ['99999999999999999999.99', '0.01', '100000000000000000000.00'],
    ['-1.5', '-2', '-3.5'],
    ['0', '0.000001', '0.000001'],
    ['-10.00', '3.25', '-6.75'],
  ])('%s + %s = %s', (a, b, sum) => {
    expect(addDecimal(a, b)).toBe(sum);
  });

  it.each([
    ['1.5', '1.50', 0],
    ['-1', '0', -1],
    ['10', '9.999', 1],
    ['-10', '-9.999', -1],
    ['0.00', '-0.00', 0],
    ['123456789012345678901234567890.1', '123456789012345678901234567890.09', 1],
  ])('compare(%s, %s) = %d', (a, b, c) => {
    expect(compareDecimal(a, b)).toBe(c);
  });

  it('refuses non-decimal text', () => {
    expect(() => addDecimal('1e5', '1')).toThrow(RangeError);
  });
});

describe('compareValues', () => {
  it('puts NULL first and compares by type', () => {
    expect(compareValues(null, 1, 3)).toBe(-1);
    expect(compareValues(2n, 10n, 8)).toBe(-1);
    expect(compareValues('10.5', '9.75', 246)).toBe(1);
    expect(compareValues('10.5', '9.75', 253)).toBe(-1);
    expect(compareValues(Buffer.from([1, 2]), Buffer.from([1, 3]), 252)).toBe(-1);
  });
});

const item = (column: string, desc: boolean) => ({ column, desc, weight: `w_${column}`, collation: `c_${column}` });

describe('kWayMerge', () => {
  const fields = [
    { name: 'k', type: 8 },
    { name: 'v', type: 246 },
  ];

  it('merges sorted lists into one sorted list and stops at the limit', () => {
    const lists = [[{ k: 1n }, { k: 4n }, { k: 9n }], [{ k: 2n }, { k: 3n }], [], [{ k: 5n }, { k: 6n }, { k: 7n }, { k: 8n }]];
    expect(kWayMerge(lists, [item('k', false)], fields, null).map((r) => r['k'])).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]);
    expect(kWayMerge(lists, [item('k', false)], fields, 4).map((r) => r['k'])).toEqual([1n, 2n, 3n, 4n]);
  });

  it('honours DESC, decimal order and ties across lists', () => {
    const lists = [
      [
        { v: '10.00', k: 1n },
        { v: '2.00', k: 3n },
      ],
      [
        { v: '10.00', k: 2n },
        { v: '9.50', k: 4n },
      ],
    ];
    const out = kWayMerge(lists, [item('v', true), item('k', false)], fields, null);
    expect(out.map((r) => r['k'])).toEqual([1n, 2n, 4n, 3n]);
  });

  it('orders text by the collation weights, skips OFFSET, drops the hidden columns and refuses a second collation', () => {
    const text = [{ name: 't', type: 253 }];
    const row = (t: string, w: string, c = 'utf8mb4_general_ci') => ({ t, w_t: Buffer.from(w), c_t: c });
    const lists = [
      [row('apple', 'A'), row('Cherry', 'C')],
      [row('Banana', 'B'), row('dog', 'D')],
    ];
    expect(kWayMerge(lists, [item('t', false)], text, 2, 1)).toEqual([{ t: 'Banana' }, { t: 'Cherry' }]);
    const mixed = [[row('apple', 'A')], [row('Banana', 'B', 'utf8mb4_0900_ai_ci')]];
    expect(() => kWayMerge(mixed, [item('t', false)], text, null)).toThrow(
      /utf8mb4_general_ci on one shard and utf8mb4_0900_ai_ci on another/,
    );
  });

  it('matches a full sort on random data', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const lists = Array.from({ length: 16 }, () =>
      Array.from({ length: rand() % 50 }, () => ({ k: BigInt(rand() % 1000) })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0)),
    );
    const expected = lists
      .flat()
      .map((r) => r.k)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(kWayMerge(lists, [item('k', false)], fields, null).map((r) => r['k'])).toEqual(expected);
  });
});

describe('aggregates', () => {
  it('sums counts and decimal sums exactly, takes min and max, skips NULL', () => {
    const p = '__shardline_';
    const fields = [
      { name: `${p}a0`, type: 8 },
      { name: `${p}a1`, type: 246 },
      { name: `${p}a2`, type: 246 },
      { name: `${p}a3`, type: 253 },
    ];
    const row = (n: bigint, s: string | null, lo: string | null, hi: string | null) => ({
      [`${p}a0`]: n,
      [`${p}a1`]: s,
      [`${p}a2`]: lo,
      [`${p}aw2`]: lo === null ? null : Buffer.from(lo),
      [`${p}a3`]: hi,
      [`${p}aw3`]: hi === null ? null : Buffer.from(hi.toLowerCase()),
    });
    const outcomes = [
      { kind: 'rows' as const, rows: [row(2n, '1.10', '-5.00', 'b')], fields },
      { kind: 'rows' as const, rows: [row(0n, null, null, null)], fields },
      { kind: 'rows' as const, rows: [row(3n, '0.20', '-10.50', 'C')], fields },
    ];
    const spec = {
      kind: 'grouped' as const,
      prefix: p,
      keys: 0,
      distincts: 0,
      partials: ['count', 'sum', 'min', 'max'] as const,
      outputs: [
        { name: 'n', value: { kind: 'agg' as const, fn: 'count' as const, partial: 0 } },
        { name: 's', value: { kind: 'agg' as const, fn: 'sum' as const, partial: 1 } },
        { name: 'lo', value: { kind: 'agg' as const, fn: 'min' as const, partial: 2 } },
        { name: 'hi', value: { kind: 'agg' as const, fn: 'max' as const, partial: 3 } },
        { name: 'avg', value: { kind: 'avg' as const, sum: 1, count: 0 } },
      ],
      having: null,
      orderBy: [],
      limit: null,
      offset: null,
    };
    // 'C' sorts after 'b' by its weight (case-insensitive), not by its bytes ('C' < 'b').
    expect(mergeGrouped({ ...spec, partials: [...spec.partials] }, outcomes, [], { limit: null, offset: 0, maxGroups: 10 })).toEqual([
      { n: 5n, s: '1.30', lo: '-10.50', hi: 'C', avg: '0.260000' },
    ]);
  });

  it('sums affected rows of a fanned-out write', () => {
    expect(
      mergeResults({ kind: 'sum-affected' }, [
        { kind: 'ok', affectedRows: 2, insertId: 0 },
        { kind: 'ok', affectedRows: 3, insertId: 0 },
      ]),
    ).toEqual({ affectedRows: 5, insertId: 0 });
  });

  it('concatenates and cuts at LIMIT', () => {
    const rows = (ks: number[]) => ({ kind: 'rows' as const, rows: ks.map((k) => ({ k })), fields: [] });
    expect(mergeResults({ kind: 'concat', limit: 3 }, [rows([1, 2]), rows([3, 4])])).toEqual([{ k: 1 }, { k: 2 }, { k: 3 }]);
  });
});
