import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { bundledClusterConfig, packageRoot, parseClusterConfig } from '../../src/config/index.js';
import { ConfigError, GtidError, RouterClosedError, ShardlineError } from '../../src/errors/index.js';
import { MariadbGtidState, MysqlGtidSet } from '../../src/cdc/checkpoint/index.js';
import { encodeGtidSet } from '../../src/cdc/binlog/index.js';
import { ShardMap, Topology } from '../../src/shard/index.js';
import { createRouter } from '../../src/router/index.js';

const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';

/** The error a call throws (fails the test when it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function sharding(naming: Record<string, string>, extra: Record<string, unknown> = {}) {
  const doc = parse(readFileSync(bundledClusterConfig, 'utf8')) as Record<string, any>;
  doc['sharding'] = { ...doc['sharding'], ...extra, naming: { ...doc['sharding']?.naming, ...naming } };
  const config = parseClusterConfig(doc, { ...process.env, SHARDLINE_REPL_PASSWORD: 'x' }, 'test', process.cwd());
  return () =>
    new Topology(
      config.sharding,
      config.instances.map((i) => i.name),
    );
}

describe('naming templates are config errors naming the field', () => {
  it.each([
    ['{shardd:04}', 'table', /unknown placeholder \{shardd:04\}/],
    ['{table}_{shardd:04}', 'table', /unknown placeholder/],
    ['{table}_{shard:4}', 'table', /brace that is not a placeholder/],
    ['{table}', 'table', /puts shards \d+ and \d+ in the same table/],
    ['users_{shard:04}', 'table', /needs \{table\}/],
    ['app_{dbb:02}', 'database', /unknown placeholder/],
    ['app_{db:02}_{shard:04}_'.padEnd(80, 'x'), 'database', /MySQL allows 1 … 64/],
  ])('%s in sharding.naming.%s', (template, field, why) => {
    const err = thrown(sharding({ [field]: template }));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('CONFIG_INVALID');
    expect((err as ConfigError).details['field']).toBe(`sharding.naming.${field}`);
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).toContain(`sharding.naming.${field}`);
  });

  it('{table} alone is fine when every shard has its own database', () => {
    const topology = sharding({ database: 'app_{db:04}', table: '{table}' }, { databases: 1024 })();
    expect(topology.names.qualified('users', 513)).toBe('`app_0513`.`users`');
  });

  it('the default templates still work', () => {
    expect(sharding({})().names.qualified('users', 513)).toMatch(/^`app_\d\d`\.`users_0513`$/);
  });

  it('a shard map that leaves a shard out or runs past the last shard names sharding.map', () => {
    const gap = thrown(() => new ShardMap(1, 4, [{ from: 0, to: 2, instance: 'a' }]));
    expect(gap).toBeInstanceOf(ConfigError);
    expect((gap as ConfigError).details['field']).toBe('sharding.map');
    const past = thrown(() => new ShardMap(1, 4, [{ from: 0, to: 9, instance: 'a' }]));
    expect((past as ConfigError).code).toBe('CONFIG_INVALID');
    expect((past as ConfigError).details['field']).toBe('sharding.map.ranges.0');
  });
});

describe('GTID parsing throws GtidError, never RangeError or SyntaxError', () => {
  const bad = [
    'nope:1',
    `${UUID}`,
    `${UUID}:`,
    `${UUID}:5-3`,
    `${UUID}:0`,
    `${UUID}:x`,
    `${UUID}:1-99999999999999999999`,
    `${UUID}:9223372036854775808`,
    `${UUID}:a:b:c:1`,
  ];
  it.each(bad)('MysqlGtidSet.parse(%s)', (text) => {
    const err = thrown(() => MysqlGtidSet.parse(text));
    expect(err).toBeInstanceOf(GtidError);
    expect((err as GtidError).code).toBe('GTID_INVALID');
  });

  it.each(['x', `${UUID}:abc`, `${UUID}:`, 'nope:1', `${UUID}:0`])('MysqlGtidSet add/has(%s)', (gtid) => {
    const set = MysqlGtidSet.parse(`${UUID}:1-5`);
    expect(thrown(() => set.add(gtid))).toBeInstanceOf(GtidError);
    expect(thrown(() => set.has(gtid))).toBeInstanceOf(GtidError);
  });

  it.each(['0-1', 'a-b-c', '0-1-2-3', '99999999999-1-1', '0-1-99999999999999999999999'])('MariadbGtidState.parse(%s)', (text) => {
    const err = thrown(() => MariadbGtidState.parse(text));
    expect(err).toBeInstanceOf(GtidError);
  });

  it.each([`zz:1`, `${UUID}:1-x`, `${UUID}:0`, `${UUID}:18446744073709551616`, `${UUID}:t@g:1`, `${UUID}:tag:0`])(
    'encodeGtidSet(%s)',
    (text) => {
      const err = thrown(() => encodeGtidSet(text));
      expect(err).toBeInstanceOf(GtidError);
    },
  );

  it('well-formed sets still parse and round-trip', () => {
    expect(MysqlGtidSet.parse(`${UUID}:1-5:7,${UUID}:blue:3`).toString()).toBe(`${UUID}:1-5:7:blue:3`);
    expect(MysqlGtidSet.parse(`${UUID}:9223372036854775807`).has(`${UUID}:9223372036854775807`)).toBe(true);
    expect(MariadbGtidState.parse('0-1-42').toString()).toBe('0-1-42');
    expect(encodeGtidSet(`${UUID}:1-5`).length).toBe(8 + 16 + 8 + 16);
  });

  it('encodes a set with MySQL 8.4+ tags in the tagged format (header bytes 0 and 7 = 1, count in 1–6, a tag after each uuid)', () => {
    const b = encodeGtidSet(`${UUID}:1-5:blue:3`);
    const uuid = Buffer.from(UUID.replace(/-/g, ''), 'hex');
    const u64 = (n: number) => {
      const x = Buffer.alloc(8);
      x.writeBigUInt64LE(BigInt(n));
      return x;
    };
    const expected = Buffer.concat([
      Buffer.from([1, 2, 0, 0, 0, 0, 0, 1]),
      uuid,
      Buffer.from([0]),
      u64(1),
      u64(1),
      u64(6),
      uuid,
      Buffer.from([4 << 1]),
      Buffer.from('blue'),
      u64(1),
      u64(3),
      u64(4),
    ]);
    expect(b.toString('hex')).toBe(expected.toString('hex'));
  });

  it('a seeded fuzz of mutated sets: parse succeeds or throws GtidError, nothing else', () => {
    let seed = 1234567;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    const alphabet = '0123456789abcdef-:,x ';
    for (let i = 0; i < 3000; i++) {
      const chars = [...`${UUID}:1-5:7`];
      for (let k = rnd(4) + 1; k > 0; k--) chars.splice(rnd(chars.length + 1), rnd(2), alphabet[rnd(alphabet.length)]!);
      const text = chars.join('');
      for (const fn of [() => MysqlGtidSet.parse(text), () => encodeGtidSet(text), () => MariadbGtidState.parse(text)]) {
        try {
          fn();
        } catch (err) {
          expect(err).toBeInstanceOf(GtidError);
        }
      }
    }
  });
});

describe('ROUTER_CLOSED', () => {
  it('is a RouterClosedError (a ShardlineError subclass) from query, explain and transaction', async () => {
    const doc = parse(readFileSync(bundledClusterConfig, 'utf8')) as Record<string, unknown>;
    const router = await createRouter({
      config: parseClusterConfig(doc, { ...process.env, SHARDLINE_REPL_PASSWORD: 'x' }, 'test', process.cwd()),
      connectionFactory: () => Promise.reject(new Error('no connection in a unit test')),
    });
    await router.close();
    const q = await router.query('SELECT 1 FROM users WHERE uid = ?', [1n]).catch((e: unknown) => e);
    expect(q).toBeInstanceOf(RouterClosedError);
    expect(q).toBeInstanceOf(ShardlineError);
    expect((q as RouterClosedError).code).toBe('ROUTER_CLOSED');
    expect((q as Error).name).toBe('RouterClosedError');
    expect(thrown(() => router.explain('SELECT 1 FROM users WHERE uid = ?', [1n]))).toBeInstanceOf(RouterClosedError);
    expect(thrown(() => router.forUid(1n).transaction(async () => undefined))).toBeInstanceOf(RouterClosedError);
  });
});

describe('every error is thrown as a subclass that carries its code', () => {
  it('no file of src/ outside errors/ constructs a bare ShardlineError', () => {
    const src = path.join(packageRoot, 'src');
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          if (file !== path.join(src, 'errors')) walk(file);
        } else if (entry.name.endsWith('.ts') && /new ShardlineError\(/.test(readFileSync(file, 'utf8')))
          offenders.push(path.relative(src, file));
      }
    };
    walk(src);
    expect(offenders).toEqual([]);
  });
});
