import type { ShardingConfig } from '../config/index.js';
import { HASHERS, type UidHasher } from './hash.js';
import { PhysicalNames, checkNaming } from './physical-names.js';
import { ShardMap } from './shard-map.js';
import { canonicalUid } from './uid.js';

/** Where one UID lives. */
export interface ShardLocation {
  uid: string;
  shard: number;
  instance: string;
  database: string;
}

/** How a logical table is distributed. */
export type TableKind = { kind: 'sharded'; shardKey: string; shardBy: 'hash' | 'embedded' } | { kind: 'broadcast' };

/**
 * The pure sharding model: hash, shard map, physical names and logical tables. No I/O.
 */
export class Topology {
  readonly shardCount: number;
  /** Every configured instance, those that hold no shard included. */
  readonly instances: readonly string[];
  private current: ShardMap;
  readonly names: PhysicalNames;
  private readonly hasher: UidHasher;
  private readonly tables: ReadonlyMap<string, TableKind>;

  constructor(sharding: ShardingConfig, instanceNames: readonly string[], hasher?: UidHasher) {
    this.shardCount = sharding.shards;
    this.hasher = hasher ?? HASHERS[sharding.hash];
    this.current = sharding.map
      ? new ShardMap(sharding.map.version, sharding.shards, sharding.map.ranges)
      : ShardMap.even(sharding.shards, instanceNames);
    this.instances = [...new Set([...instanceNames, ...this.current.instances])];
    const rules = {
      shardCount: sharding.shards,
      databases: sharding.databases ?? 4 * instanceNames.length,
      database: sharding.naming.database,
      table: sharding.naming.table,
      broadcastDatabase: sharding.naming.broadcastDatabase,
    };
    checkNaming(rules, Object.keys(sharding.tables));
    this.names = new PhysicalNames(rules);
    const tables = new Map<string, TableKind>();
    for (const [name, t] of Object.entries(sharding.tables))
      tables.set(name.toLowerCase(), { kind: 'sharded', shardKey: t.shardKey, shardBy: t.shardBy ?? 'hash' });
    for (const name of sharding.broadcast) tables.set(name.toLowerCase(), { kind: 'broadcast' });
    this.tables = tables;
  }

  /** The shard map in force: the config's, or a later version adopted since ({@link adoptMap}). */
  get map(): ShardMap {
    return this.current;
  }

  /**
   * Takes a later version of the shard map (a shard move published it); an older or equal
   * version, one of another shard count, or one that names an instance this topology does not
   * have (a map another cluster published on a shared server) is ignored. Returns whether the
   * map changed.
   */
  adoptMap(next: ShardMap): boolean {
    if (next.version <= this.current.version || next.shardCount !== this.shardCount) return false;
    if (next.instances.some((i) => !this.instances.includes(i))) return false;
    this.current = next;
    return true;
  }

  /** The logical shard of a UID. @throws {InvalidUidError} */
  shardOf(uid: unknown): number {
    return this.hasher(canonicalUid(uid)) % this.shardCount;
  }

  /**
   * The shard of a key value of logical table `table`: {@link shardOf} (the hash), or for a table
   * with `shardBy: embedded` the shard the key carries (`key mod shardCount`).
   * @throws {InvalidUidError}
   */
  shardOfKey(table: string, key: unknown): number {
    const kind = this.tables.get(table.toLowerCase());
    if (kind?.kind === 'sharded' && kind.shardBy === 'embedded') return Number(BigInt(canonicalUid(key)) % BigInt(this.shardCount));
    return this.shardOf(key);
  }

  /** Shard, instance and database of a UID. @throws {InvalidUidError} */
  locate(uid: unknown): ShardLocation {
    const text = canonicalUid(uid);
    const shard = this.hasher(text) % this.shardCount;
    return { uid: text, shard, instance: this.map.instanceOf(shard), database: this.names.database(shard) };
  }

  /** The distribution of a logical table (case-insensitive), or undefined when unknown. */
  table(name: string): TableKind | undefined {
    return this.tables.get(name.toLowerCase());
  }

  private physicalIndex: Map<string, { logical: string; shard: number }> | undefined;

  /**
   * The logical table and shard of a physical table (`app_08`, `users_0513` → users, 513), or
   * null when it is not a shard of a configured logical table.
   */
  logicalOf(database: string, table: string): { logical: string; shard: number } | null {
    if (!this.physicalIndex) {
      const index = new Map<string, { logical: string; shard: number }>();
      for (const [logical, kind] of this.tables) {
        if (kind.kind !== 'sharded') continue;
        for (let shard = 0; shard < this.shardCount; shard++)
          index.set(`${this.names.database(shard)}.${this.names.table(logical, shard)}`, { logical, shard });
      }
      this.physicalIndex = index;
    }
    return this.physicalIndex.get(`${database}.${table}`) ?? null;
  }

  /** Every logical table with its kind. */
  allTables(): [string, TableKind][] {
    return [...this.tables];
  }
}
