import { ConfigError } from '../errors/index.js';

/** One range of the map, resolved to an instance index. */
export interface ShardRange {
  from: number;
  to: number;
  instance: string;
}

/**
 * A versioned assignment of every logical shard to one physical instance. Lookups are one
 * array read. Resharding builds a new map (a higher version) and never changes the hash.
 */
export class ShardMap {
  readonly version: number;
  readonly shardCount: number;
  readonly instances: readonly string[];
  private readonly owner: Uint16Array;
  private readonly byInstance: ReadonlyMap<string, readonly number[]>;

  constructor(version: number, shardCount: number, ranges: readonly ShardRange[]) {
    this.version = version;
    this.shardCount = shardCount;
    const instances: string[] = [];
    const owner = new Uint16Array(shardCount).fill(0xffff);
    for (const [i, r] of ranges.entries()) {
      if (r.to >= shardCount || r.from > r.to) {
        const field = `sharding.map.ranges.${i}`;
        throw new ConfigError('CONFIG_INVALID', `${field}: shards ${r.from} … ${r.to} is not a range of 0 … ${shardCount - 1}`, {
          details: { field, fields: [field] },
        });
      }
      let idx = instances.indexOf(r.instance);
      if (idx === -1) idx = instances.push(r.instance) - 1;
      for (let s = r.from; s <= r.to; s++) owner[s] = idx;
    }
    const missing = owner.indexOf(0xffff);
    if (missing !== -1)
      throw new ConfigError(
        'CONFIG_INVALID',
        `sharding.map: shard ${missing} is not mapped (every shard 0 … ${shardCount - 1} needs an instance)`,
        { details: { field: 'sharding.map', fields: ['sharding.map'] } },
      );
    this.owner = owner;
    this.instances = instances;
    const byInstance = new Map<string, number[]>(instances.map((i) => [i, []]));
    owner.forEach((idx, shard) => byInstance.get(instances[idx]!)!.push(shard));
    this.byInstance = byInstance;
  }

  /** Splits `shardCount` shards into equal contiguous ranges over `instances` (version 1). */
  static even(shardCount: number, instances: readonly string[]): ShardMap {
    const per = Math.ceil(shardCount / instances.length);
    const ranges = instances.map((instance, i) => ({ from: i * per, to: Math.min(shardCount, (i + 1) * per) - 1, instance }));
    return new ShardMap(
      1,
      shardCount,
      ranges.filter((r) => r.from <= r.to),
    );
  }

  /** The instance holding `shard`. */
  instanceOf(shard: number): string {
    return this.instances[this.owner[shard]!]!;
  }

  /** The shards an instance holds, ascending. */
  shardsOf(instance: string): readonly number[] {
    return this.byInstance.get(instance) ?? [];
  }

  /** The map as contiguous ranges (for display and explain). */
  ranges(): ShardRange[] {
    const out: ShardRange[] = [];
    for (let s = 0; s < this.shardCount; s++) {
      const instance = this.instanceOf(s);
      const last = out[out.length - 1];
      if (last && last.instance === instance && last.to === s - 1) last.to = s;
      else out.push({ from: s, to: s, instance });
    }
    return out;
  }
}
