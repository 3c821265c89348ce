import { describe, expect, it } from '@jest/globals';
import { ShardMap } from '../../src/shard/index.js';
import { ShardOwnership, handoffBase, shardRanges, versionOfShard } from '../../src/cdc/pipeline/shard-ownership.js';
import { nextEpoch, versionIn, type VersionEpoch } from '../../src/cdc/events/source-version.js';
import { captureTarget } from '../../src/cdc/pipeline/capture-rules.js';
import { snapshotTables } from '../../src/cdc/pipeline/snapshot-tables.js';
import { Topology } from '../../src/shard/index.js';
import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';

const v1 = new ShardMap(1, 16, [
  { from: 0, to: 7, instance: 'a' },
  { from: 8, to: 15, instance: 'b' },
]);
const v2 = v1.reassign([12, 13, 14, 15], 'c');
const v3 = v2.reassign([12, 13, 14, 15], 'b');

/** The version a reader gives a change at (file, pos), the way the pipeline does: epochFor, then versionIn. */
const versionAt = (o: ShardOwnership, shard: number, epoch: VersionEpoch | undefined, file: string, pos: number, row = 0) =>
  versionIn(o.epochFor(shard, epoch), { file, pos, row });

describe('ShardOwnership', () => {
  it('tells the shards a new map gives, per previous owner, and the shards it takes away', () => {
    expect(new ShardOwnership(v1, 'c').changes(v2)).toEqual({ gained: new Map([['b', [12, 13, 14, 15]]]), lost: [] });
    expect(new ShardOwnership(v1, 'b').changes(v2)).toEqual({ gained: new Map(), lost: [12, 13, 14, 15] });
    expect(new ShardOwnership(v1, 'a').changes(v2)).toEqual({ gained: new Map(), lost: [] });
  });

  it('keeps versions of moved rows monotonic: source, then target (a younger binlog), then back on the source', () => {
    // b has written 9 binlog files, c only 1: c's own versions are far below b's.
    const b = new ShardOwnership(v1, 'b');
    const c = new ShardOwnership(v1, 'c');
    const lastOnB = versionAt(b, 13, undefined, 'binlog.000009', 50_000, 3);
    // b's reader passes the v2 row at binlog.000009:60000 and commits its checkpoint there.
    b.adopt(v2, []);
    const bCheckpoint = { file: 'binlog.000009', pos: 60_100, shardMap: b.state() };
    // c adopts v2 at its own binlog.000001:7000.
    const base = handoffBase([12, 13, 14, 15], [bCheckpoint]);
    expect(base).toBeGreaterThan(lastOnB);
    const origin = versionIn(undefined, { file: 'binlog.000001', pos: 7000, row: 0 });
    c.adopt(v2, [{ ranges: shardRanges([12, 13, 14, 15]), base: base.toString(), origin: origin.toString(), map: 2, from: 'b' }]);
    const firstOnC = versionAt(c, 13, undefined, 'binlog.000001', 7100);
    const laterOnC = versionAt(c, 13, undefined, 'binlog.000002', 120);
    expect(firstOnC).toBeGreaterThan(lastOnB);
    expect(laterOnC).toBeGreaterThan(firstOnC);
    // c's own shards keep c's own versions.
    expect(versionAt(c, 3, undefined, 'binlog.000001', 7100)).toBe(versionIn(undefined, { file: 'binlog.000001', pos: 7100, row: 0 }));
    expect(c.epochFor(null, undefined)).toBeUndefined();

    // Rollback: the shards go back to b at v3 (b's binlog.000010:10); c's checkpoint is at binlog.000002:900.
    c.adopt(v3, []);
    // c's checkpoint after giving them back still carries their versions: exactly what b hands off from
    expect(c.state()).toEqual({
      version: 3,
      adopted: [{ ranges: [[12, 15]], base: base.toString(), origin: origin.toString(), map: 2, from: 'b' }],
    });
    const cCheckpoint = { file: 'binlog.000002', pos: 900, shardMap: c.state() };
    const back = handoffBase([12, 13, 14, 15], [cCheckpoint]);
    expect(back).toBeGreaterThan(laterOnC);
    const bOrigin = versionIn(undefined, { file: 'binlog.000010', pos: 10, row: 0 });
    b.adopt(v3, [{ ranges: [[12, 15]], base: back.toString(), origin: bOrigin.toString(), map: 3, from: 'c' }]);
    expect(versionAt(b, 13, undefined, 'binlog.000010', 200)).toBeGreaterThan(laterOnC);
    expect(versionAt(b, 13, undefined, 'binlog.000010', 200)).toBeGreaterThan(lastOnB);
  });

  it('composes with a failover epoch of the instance that took the shards over', () => {
    const c = new ShardOwnership(v1, 'c');
    const base = 5_000_000_000_000n;
    const origin = versionIn(undefined, { file: 'binlog.000001', pos: 7000, row: 0 });
    c.adopt(v2, [{ ranges: [[12, 15]], base: base.toString(), origin: origin.toString(), map: 2, from: 'b' }]);
    const before = versionAt(c, 12, undefined, 'binlog.000001', 9000);
    // c fails over to its replica, whose binlog starts at replica.000001.
    const epoch = nextEpoch(undefined, { file: 'binlog.000001', pos: 9500 }, 'replica.000001');
    const after = versionAt(c, 12, epoch, 'replica.000001', 4);
    expect(after).toBeGreaterThan(before);
    // and equals base + L(p) − origin with L the instance's epoch-adjusted version
    expect(after).toBe(base + versionIn(epoch, { file: 'replica.000001', pos: 4, row: 0 }) - origin);
    // what a checkpoint records reproduces the same versions after a restart
    const restarted = new ShardOwnership(v2, 'c', c.state().adopted);
    expect(versionAt(restarted, 12, epoch, 'replica.000001', 4)).toBe(after);
    expect(versionOfShard(c.state(), epoch, 12, { file: 'replica.000001', pos: 4 })).toBe(after);
  });

  it('keeps the versions of shards it gave away (a later owner hands off from them), starts afresh when they come back', () => {
    const c = new ShardOwnership(v1, 'c');
    c.adopt(v2, [{ ranges: [[12, 15]], base: '1000000', origin: '0', map: 2, from: 'b' }]);
    const published = versionAt(c, 13, undefined, 'binlog.000001', 500);
    c.adopt(v3, []);
    // c no longer owns 12-15, but its checkpoint still says how high their versions went
    const cp = { file: 'binlog.000001', pos: 600, shardMap: c.state() };
    expect(handoffBase([13], [cp])).toBeGreaterThan(published);
    // the shards come back to c: the new adoption replaces the old one
    const v4 = v3.reassign([12, 13], 'c');
    c.adopt(v4, [{ ranges: [[12, 13]], base: '5000000', origin: '10', map: 4, from: 'b' }]);
    expect(c.state().adopted).toEqual([
      { ranges: [[14, 15]], base: '1000000', origin: '0', map: 2, from: 'b' },
      { ranges: [[12, 13]], base: '5000000', origin: '10', map: 4, from: 'b' },
    ]);
  });

  it('handoffBase is 0 when no other reader has published anything', () => {
    expect(handoffBase([1, 2], [])).toBe(0n);
    expect(shardRanges([5, 1, 2, 3, 9, 8])).toEqual([
      [1, 3],
      [5, 5],
      [8, 9],
    ]);
  });
});

describe("capture by the reader's map", () => {
  const config = loadClusterConfig(bundledClusterConfig, {});
  const topology = new Topology(
    config.sharding,
    config.instances.map((i) => i.name),
  );
  const rules = { topology, include: null, exclude: new Set<string>(), broadcastDatabase: 'app_global', broadcastInstance: 'shard-0' };
  const moved = topology.map.reassign([768, 769, 770, 771], 'shard-4');
  const t769 = { database: topology.names.database(769), table: topology.names.table('users', 769) };

  it('judges ownership by the given map; null takes any owner (what the decoder keeps)', () => {
    expect(captureTarget(rules, 'shard-3', t769.database, t769.table)).toEqual({ logical: 'users', shard: 769 });
    expect(captureTarget(rules, 'shard-4', t769.database, t769.table)).toBeNull();
    expect(captureTarget(rules, 'shard-4', t769.database, t769.table, moved)).toEqual({ logical: 'users', shard: 769 });
    expect(captureTarget(rules, 'shard-3', t769.database, t769.table, moved)).toBeNull();
    expect(captureTarget(rules, 'shard-0', t769.database, t769.table, null)).toEqual({ logical: 'users', shard: 769 });
  });

  it('snapshots the tables the reader owns by its map', () => {
    const shards = (instance: string) => [...new Set(snapshotTables(rules, instance, moved).map((t) => t.shard))];
    expect(shards('shard-4')).toEqual([768, 769, 770, 771]);
    expect(shards('shard-3')).not.toContain(769);
    expect(shards('shard-3')).toContain(772);
  });
});
