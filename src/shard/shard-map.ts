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
      if (r.from < 0 || r.to >= shardCount || r.from > r.to) {
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

  /**
   * The next version of the map: `shards` (ascending or not, each 0 … shardCount − 1) held by
   * `instance`, every other shard where it was.
   */
  reassign(shards: readonly number[], instance: string): ShardMap {
    const moving = new Set(shards);
    for (const s of moving)
      if (!Number.isInteger(s) || s < 0 || s >= this.shardCount)
        throw new ConfigError('CONFIG_INVALID', `shard ${s} is not one of 0 … ${this.shardCount - 1}`, {
          details: { field: 'shards', fields: ['shards'] },
        });
    const ranges: ShardRange[] = [];
    for (let s = 0; s < this.shardCount; s++) {
      const owner = moving.has(s) ? instance : this.instanceOf(s);
      const last = ranges[ranges.length - 1];
      if (last && last.instance === owner && last.to === s - 1) last.to = s;
      else ranges.push({ from: s, to: s, instance: owner });
    }
    return new ShardMap(this.version + 1, this.shardCount, ranges);
  }

  /** The ranges as the JSON text a published version stores (`<metaDatabase>.shard_map.ranges`). */
  toJson(): string {
    return JSON.stringify(this.ranges());
  }

  /**
   * A published version: its number and the JSON text of its ranges.
   * @throws {ConfigError} CONFIG_INVALID when the text is not a complete map of `shardCount` shards
   */
  static fromJson(version: number, shardCount: number, json: string): ShardMap {
    let ranges: unknown;
    try {
      ranges = JSON.parse(json);
    } catch {
      ranges = null;
    }
    const ok =
      Number.isInteger(version) &&
      version >= 1 &&
      Array.isArray(ranges) &&
      ranges.every(
        (r: unknown) =>
          typeof r === 'object' &&
          r !== null &&
          Number.isInteger((r as ShardRange).from) &&
          Number.isInteger((r as ShardRange).to) &&
          typeof (r as ShardRange).instance === 'string' &&
          (r as ShardRange).instance.length > 0,
      );
    if (!ok)
      throw new ConfigError('CONFIG_INVALID', `shard map version ${version}: its ranges are not a list of { from, to, instance }`, {
        details: { field: 'shard_map.ranges', fields: ['shard_map.ranges'] },
      });
    return new ShardMap(
      version,
      shardCount,
      (ranges as ShardRange[]).map((r) => ({ from: r.from, to: r.to, instance: r.instance })),
    );
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
