import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../src/config/index.js';
import { InvalidUidError } from '../../src/errors/index.js';
import { canonicalUid, crc32Hasher, ShardMap, PhysicalNames, expandTemplate } from '../../src/shard/index.js';

const vectors = JSON.parse(readFileSync(path.join(packageRoot, 'schemas', 'shard-hash-vectors.json'), 'utf8')) as {
  shards: number;
  vectors: { uid: string; crc32: number; shard: number }[];
};

describe('canonicalUid', () => {
  it.each([
    [0, '0'],
    [42, '42'],
    [Number.MAX_SAFE_INTEGER, '9007199254740991'],
    [18446744073709551615n, '18446744073709551615'],
    [0n, '0'],
    ['18446744073709551615', '18446744073709551615'],
    ['7', '7'],
  ])('accepts %p as %s', (input, text) => {
    expect(canonicalUid(input)).toBe(text);
  });

  it.each([
    [1.5, /not a non-negative integer/],
    [-1, /not a non-negative integer/],
    [Number.NaN, /not a non-negative integer/],
    [Infinity, /not a non-negative integer/],
    [2 ** 53, /beyond 2\^53−1/],
    [-1n, /outside 0 … 2\^64−1/],
    [18446744073709551616n, /outside 0 … 2\^64−1/],
    ['', /not canonical/],
    ['007', /not canonical/],
    [' 7', /not canonical/],
    ['-7', /not canonical/],
    ['1e3', /not canonical/],
    ['18446744073709551616', /outside 0 … 2\^64−1/],
    ['123456789012345678901', /outside 0 … 2\^64−1/],
    ['99999999999999999999999', /outside 0 … 2\^64−1/],
    ['0123456789012345678901', /not canonical/],
    [null, /got null/],
    [undefined, /got undefined/],
    [{}, /got object/],
  ])('rejects %p with a typed error', (input, message) => {
    let error: unknown;
    try {
      canonicalUid(input);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidUidError);
    expect((error as InvalidUidError).code).toBe('INVALID_UID');
    expect((error as Error).message).toMatch(message);
  });
});

describe('CRC32 hashing', () => {
  it.each(vectors.vectors.map((v) => [v.uid, v.crc32, v.shard] as const))(
    'uid %s matches MySQL CRC32 = %d, shard %d',
    (uid, crc, shard) => {
      expect(crc32Hasher(uid)).toBe(crc);
      expect(crc32Hasher(uid) % vectors.shards).toBe(shard);
    },
  );

  function chiSquare(uids: Iterable<string>): { chi2: number; n: number } {
    const buckets = new Uint32Array(1024);
    let n = 0;
    for (const uid of uids) {
      buckets[crc32Hasher(uid) % 1024]!++;
      n++;
    }
    const expected = n / 1024;
    let chi2 = 0;
    for (const b of buckets) chi2 += (b - expected) ** 2 / expected;
    return { chi2, n };
  }
  // 1023 degrees of freedom: the 99.9th percentile is about 1168.
  const CRITICAL = 1168;

  it('spreads sequential UIDs uniformly over 1024 shards (chi-square)', () => {
    function* sequential() {
      for (let i = 1; i <= 1024 * 200; i++) yield String(i);
    }
    expect(chiSquare(sequential()).chi2).toBeLessThan(CRITICAL);
  });

  it('spreads random 64-bit UIDs uniformly over 1024 shards (chi-square)', () => {
    function* random() {
      let x = 0x9e3779b97f4a7c15n;
      const mask = (1n << 64n) - 1n;
      for (let i = 0; i < 1024 * 200; i++) {
        x ^= (x << 13n) & mask;
        x ^= x >> 7n;
        x ^= (x << 17n) & mask;
        yield x.toString();
      }
    }
    expect(chiSquare(random()).chi2).toBeLessThan(CRITICAL);
  });

  it('detects a skewed distribution (the test can fail)', () => {
    function* skewed() {
      for (let i = 0; i < 1024 * 200; i++) yield String((i % 3) * 1000);
    }
    expect(chiSquare(skewed()).chi2).toBeGreaterThan(CRITICAL);
  });
});

describe('ShardMap', () => {
  it('splits shards evenly and answers both directions', () => {
    const map = ShardMap.even(1024, ['a', 'b', 'c', 'd']);
    expect(map.instanceOf(0)).toBe('a');
    expect(map.instanceOf(255)).toBe('a');
    expect(map.instanceOf(256)).toBe('b');
    expect(map.instanceOf(1023)).toBe('d');
    expect(map.shardsOf('c')).toHaveLength(256);
    expect(map.ranges()).toEqual([
      { from: 0, to: 255, instance: 'a' },
      { from: 256, to: 511, instance: 'b' },
      { from: 512, to: 767, instance: 'c' },
      { from: 768, to: 1023, instance: 'd' },
    ]);
  });

  it('keeps a moved range on its new instance (resharding never rehashes)', () => {
    const map = new ShardMap(2, 8, [
      { from: 0, to: 3, instance: 'a' },
      { from: 4, to: 5, instance: 'b' },
      { from: 6, to: 7, instance: 'a' },
    ]);
    expect(map.version).toBe(2);
    expect(map.shardsOf('a')).toEqual([0, 1, 2, 3, 6, 7]);
    expect(map.instanceOf(5)).toBe('b');
  });

  it('refuses a map with a hole', () => {
    expect(() => new ShardMap(1, 4, [{ from: 0, to: 2, instance: 'a' }])).toThrow('shard 3 is not mapped');
  });
});

describe('PhysicalNames', () => {
  const names = new PhysicalNames({
    shardCount: 1024,
    databases: 16,
    database: 'app_{db:02}',
    table: '{table}_{shard:04}',
    broadcastDatabase: 'app_global',
  });

  it('names databases by contiguous shard blocks and tables by shard', () => {
    expect(names.database(0)).toBe('app_00');
    expect(names.database(63)).toBe('app_00');
    expect(names.database(64)).toBe('app_01');
    expect(names.database(513)).toBe('app_08');
    expect(names.database(1023)).toBe('app_15');
    expect(names.table('users', 7)).toBe('users_0007');
    expect(names.qualified('users', 513)).toBe('`app_08`.`users_0513`');
    expect(names.broadcast('countries')).toBe('`app_global`.`countries`');
    expect(names.allDatabases()).toHaveLength(16);
  });

  it('expands templates and refuses unknown placeholders', () => {
    expect(expandTemplate('{table}_{shard:04}', { table: 't', shard: 5 })).toBe('t_0005');
    expect(() => expandTemplate('{nope}', {})).toThrow(/unknown placeholder \{nope\}/);
  });
});

describe('InvalidUidError never echoes the value', () => {
  it.each([['4111111111111111x'], [-4111111111111111n], [4111.5], ['04111111111111111']])('%p', (value) => {
    let error: unknown;
    try {
      canonicalUid(value);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidUidError);
    expect(JSON.stringify({ m: (error as Error).message, d: (error as InvalidUidError).details })).not.toMatch(/4111/);
  });
});

describe('InvalidUidError says what the value was', () => {
  it.each([
    [2 ** 60, 'UID (an integer number) is beyond 2^53−1; pass it as a bigint or a decimal string'],
    [3.5, 'UID (a fractional number) is not a non-negative integer'],
    [-1, 'UID (a negative integer number) is not a non-negative integer'],
    [-0.5, 'UID (a negative fractional number) is not a non-negative integer'],
  ])('%p', (value, message) => {
    expect(() => canonicalUid(value)).toThrow(message);
  });
});
