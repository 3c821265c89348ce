import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { parse } from 'yaml';
import { bundledClusterConfig, parseClusterConfig, type ClusterConfig } from '../../src/config/index.js';
import { IdAllocator, type LeaseBlock } from '../../src/router/id-allocator.js';
import { Topology } from '../../src/shard/index.js';
import { analyze, plan } from '../../src/sql/index.js';
import { failure } from '../support/thrown.js';

// Oracles written from the contract, not from the code: the hash is CRC32 of the decimal text
// mod 1024; an embedded key's shard is the key mod 1024; the bundled config puts shard s in
// database app_<s div 64> and table <t>_<s, 4 digits>.
const hashShard = (uid: bigint | number) => crc32(String(uid)) % 1024;
const physical = (table: string, s: number) =>
  `\`app_${String(Math.floor(s / 64)).padStart(2, '0')}\`.\`${table}_${String(s).padStart(4, '0')}\``;

const env = { ...process.env, SHARDLINE_REPL_PASSWORD: 'x' };
function withTables(tables: Record<string, unknown>): ClusterConfig {
  const doc = parse(readFileSync(bundledClusterConfig, 'utf8')) as Record<string, any>;
  doc['sharding'] = { ...doc['sharding'], tables };
  return parseClusterConfig(doc, env, 'test', process.cwd());
}

const config = withTables({
  users: { shardKey: 'uid' },
  events: { shardKey: 'event_id', shardBy: 'embedded' },
  orders: { shardKey: 'uid', shardBy: 'hash' },
});
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
const route = (sql: string, params: unknown[] = []) => plan(analyze(sql, topology), params as never, topology);

describe('tables keyed by IDs that embed their shard (shardBy: embedded)', () => {
  it('config: shardBy is hash or embedded; absent means hash', () => {
    expect(config.sharding.tables['events']!.shardBy).toBe('embedded');
    expect(config.sharding.tables['users']!.shardBy).toBeUndefined();
    expect(() => withTables({ events: { shardKey: 'event_id', shardBy: 'modulo' } })).toThrow(/shardBy/);
    expect(topology.table('events')).toEqual({ kind: 'sharded', shardKey: 'event_id', shardBy: 'embedded' });
    expect(topology.table('users')).toEqual({ kind: 'sharded', shardKey: 'uid', shardBy: 'hash' });
  });

  it('a key of an embedded table routes to key mod shards; other tables keep the hash', () => {
    for (const id of [0n, 1n, 1023n, 1024n, 5n * 1024n + 77n, 18446744073709551615n]) {
      expect(topology.shardOfKey('events', id)).toBe(Number(id % 1024n));
      expect(topology.shardOfKey('EVENTS', id.toString())).toBe(Number(id % 1024n));
    }
    expect(topology.shardOfKey('users', 5n * 1024n + 77n)).toBe(hashShard(5n * 1024n + 77n));
    expect(topology.shardOfKey('orders', 42)).toBe(hashShard(42));
    expect(() => topology.shardOfKey('events', -1)).toThrow();
    expect(() => topology.shardOfKey('events', '007')).toThrow();
  });

  it('point statements, IN lists and INSERT rows route by the embedded shard', () => {
    const id = 9n * 1024n + 513n;
    const p = route('SELECT * FROM events WHERE event_id = ?', [id]);
    expect(p.shards).toEqual([513]);
    expect(p.targets[0]!.sql).toBe(`SELECT * FROM ${physical('events', 513)} WHERE event_id = ?`);
    expect(route('UPDATE events SET n = n + 1 WHERE event_id = 2051', []).shards).toEqual([3]);
    expect(route('DELETE FROM events WHERE event_id IN (?, ?, ?)', [1024n, 2048n + 5n, 4n]).shards).toEqual([0, 4, 5]);
    const ins = route('INSERT INTO events (event_id, uid) VALUES (?, ?), (?, ?), (?, ?)', [1024n + 7n, 1n, 7n, 2n, 2n * 1024n + 9n, 3n]);
    expect(ins.shards).toEqual([7, 9]);
    const seven = ins.targets.find((t) => t.shards[0] === 7)!;
    expect(seven.sql).toBe(`INSERT INTO ${physical('events', 7)} (event_id, uid) VALUES (?, ?), (?, ?)`);
    expect(seven.params).toEqual([1024n + 7n, 1n, 7n, 2n]);
    // the same values on a hashed table go where the hash says
    expect(route('SELECT * FROM users WHERE uid = ?', [id]).shards).toEqual([hashShard(id)]);
  });

  it('a join of an embedded and a hashed table on equal keys is not taken as co-located', () => {
    const uid = 123_456n;
    const shard = hashShard(uid);
    const eventId = 1024n * 31n + BigInt(shard);
    // both pinned, to the same shard: runs there
    const same = route('SELECT * FROM users u JOIN events e ON e.uid = u.uid WHERE u.uid = ? AND e.event_id = ?', [uid, eventId]);
    expect(same.shards).toEqual([shard]);
    // joined on u.uid = e.event_id: equal values, different shards; only one side pinned — refused, never run on one shard by mistake
    const err = failure(() => route('SELECT * FROM users u JOIN events e ON e.event_id = u.uid WHERE u.uid = ?', [uid]));
    expect(err.code).toBe('SHARD_KEY_MISSING');
    // two hashed tables joined on their keys stay co-located
    expect(route('SELECT * FROM users u JOIN orders o ON o.uid = u.uid WHERE u.uid = ?', [uid]).shards).toEqual([shard]);
  });
});

describe('router.nextId with a shard embedded (IdAllocator.nextEmbedded)', () => {
  function counter() {
    const rows = new Map<string, bigint>();
    const leases: string[] = [];
    const lease: LeaseBlock = async (name, size) => {
      await new Promise((r) => setTimeout(r, 1));
      const end = (rows.get(name) ?? 1n) + BigInt(size);
      rows.set(name, end);
      leases.push(name);
      return end;
    };
    return { lease, leases };
  }

  it('IDs carry the shard, increase per process, stay unique across processes, and use their own counter', async () => {
    const shared = counter();
    const procs = Array.from({ length: 3 }, () => new IdAllocator(shared.lease, { initialBlock: 5, maxBlock: 40 }));
    const all = new Set<bigint>();
    await Promise.all(
      procs.map(async (p, i) => {
        let last = -1n;
        for (let n = 0; n < 500; n++) {
          const shard = (n * 7 + i) % 1024;
          const id = await p.nextEmbedded('orders', shard, 1024);
          expect(Number(id % 1024n)).toBe(shard);
          expect(id > last).toBe(true);
          last = id;
          all.add(id);
        }
      }),
    );
    expect(all.size).toBe(1500);
    // plain IDs of the same name come from another segment row, so the two kinds never meet
    const plain = await procs[0]!.next('orders');
    expect(new Set(shared.leases)).toEqual(new Set(['orders#', 'orders']));
    expect(plain).toBe(1n);
  });

  it('refuses names a shard-embedding sequence cannot take', async () => {
    const p = new IdAllocator(counter().lease, { initialBlock: 5, maxBlock: 5 });
    await expect(p.nextEmbedded('x'.repeat(64), 0, 1024)).rejects.toMatchObject({ code: 'ID_SEQUENCE' });
    await expect(p.nextEmbedded('a#', 0, 1024)).rejects.toMatchObject({ code: 'ID_SEQUENCE' });
    await expect(p.next('a#')).rejects.toMatchObject({ code: 'ID_SEQUENCE' });
    expect(Number((await p.nextEmbedded('x'.repeat(63), 5, 1024)) % 1024n)).toBe(5);
  });

  it('refuses an ID past 2^64 − 1', async () => {
    const p = new IdAllocator(async (_name, size) => 18446744073709551615n / 1024n + BigInt(size), { initialBlock: 4, maxBlock: 4 });
    const first = await p.nextEmbedded('big', 1023, 1024);
    expect(first % 1024n).toBe(1023n);
    let failed: unknown = null;
    for (let i = 0; i < 4 && !failed; i++) await p.nextEmbedded('big', 1023, 1024).catch((e: unknown) => (failed = e));
    expect(failed).toMatchObject({ code: 'ID_SEQUENCE' });
  });
});
