import type { ShardMap } from '../../shard/index.js';
import { versionIn, type VersionEpoch } from '../events/source-version.js';
import type { AdoptedShards, OwnershipState } from '../checkpoint/checkpoint.js';

export type { AdoptedShards, OwnershipState };

/** Inclusive ranges of a set of shard numbers. */
export function shardRanges(shards: Iterable<number>): Array<[number, number]> {
  const sorted = [...new Set(shards)].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && last[1] === s - 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

const inRanges = (ranges: ReadonlyArray<readonly [number, number]>, shard: number) => ranges.some(([a, b]) => shard >= a && shard <= b);

/** The epoch that gives the versions of an adopted shard through {@link versionIn} (composes with the instance's own epoch). */
export function adoptedEpoch(adopted: AdoptedShards, own: VersionEpoch | undefined): VersionEpoch {
  const shift = own && own.n > 0 ? BigInt(own.base) - BigInt(own.origin) : 0n;
  return { n: (own?.n ?? 0) + 1, base: adopted.base, origin: (BigInt(adopted.origin) - shift).toString() };
}

/** The version a reader whose checkpoint is `state`/`epoch` gives `shard` at `position` (row 0). */
export function versionOfShard(
  state: OwnershipState | undefined,
  epoch: VersionEpoch | undefined,
  shard: number,
  position: { file: string; pos: number },
): bigint {
  const adopted = state?.adopted?.find((a) => inRanges(a.ranges, shard));
  return versionIn(adopted ? adoptedEpoch(adopted, epoch) : epoch, { ...position, row: 0 });
}

/** A previous owner's committed checkpoint, as far as a handoff needs it. */
export interface OwnerCheckpoint {
  file: string;
  pos: number;
  epoch?: VersionEpoch;
  shardMap?: OwnershipState;
}

/**
 * The base of shards taken over: one above the greatest version any other reader can have given
 * them — each checkpoint's position is past every change it published, and a previous owner's is
 * past the shard-map row that took them away (the caller waits for that).
 */
export function handoffBase(shards: readonly number[], others: readonly OwnerCheckpoint[]): bigint {
  let max = -1n;
  for (const cp of others)
    for (const s of shards) {
      const v = versionOfShard(cp.shardMap, cp.epoch, s, cp);
      if (v > max) max = v;
    }
  return max + 1n;
}

/**
 * Which shards a reader owns at its position in its instance's binlog, and how their versions go
 * (pure). A reader adopts a new shard-map version when that version's row appears in its own
 * binlog — the point where a shard move's cut-over reached the instance — so that changes before
 * it (a move's copy and catch-up writes on the target) are judged by the map they were written
 * under, and changes after it by the new one.
 */
export class ShardOwnership {
  private adopted: AdoptedShards[];

  constructor(
    private current: ShardMap,
    private readonly instance: string,
    adopted: readonly AdoptedShards[] = [],
  ) {
    this.adopted = adopted.map((a) => ({ ...a, ranges: a.ranges.map(([x, y]) => [x, y]) }));
  }

  get map(): ShardMap {
    return this.current;
  }

  /** The shards `next` gives this instance, per previous owner, and the shards it takes away. */
  changes(next: ShardMap): { gained: Map<string, number[]>; lost: number[] } {
    const gained = new Map<string, number[]>();
    const lost: number[] = [];
    for (let s = 0; s < next.shardCount; s++) {
      const was = this.current.instanceOf(s);
      const now = next.instanceOf(s);
      if (was === now) continue;
      if (now === this.instance) gained.set(was, [...(gained.get(was) ?? []), s]);
      else if (was === this.instance) lost.push(s);
    }
    return { gained, lost };
  }

  /** Adopts `next` (a later version); `adopted` gives the versions of the shards it gains. */
  adopt(next: ShardMap, adopted: readonly AdoptedShards[]): void {
    // Shards given away keep their entry: the checkpoint must still tell a later owner how high
    // their versions went here. Shards that come (back) start afresh.
    const had = new Set(this.current.shardsOf(this.instance));
    const gained = new Set(next.shardsOf(this.instance).filter((s) => !had.has(s)));
    this.adopted = this.adopted
      .map((a) => ({ ...a, ranges: shardRanges(expand(a.ranges).filter((s) => !gained.has(s))) }))
      .filter((a) => a.ranges.length > 0);
    this.adopted.push(...adopted.filter((a) => a.ranges.length > 0));
    this.current = next;
  }

  /** The epoch for versions of `shard` (the instance's own unless the shard was adopted). */
  epochFor(shard: number | null, own: VersionEpoch | undefined): VersionEpoch | undefined {
    if (shard === null || this.adopted.length === 0) return own;
    const a = this.adopted.find((x) => inRanges(x.ranges, shard));
    return a ? adoptedEpoch(a, own) : own;
  }

  /** What the checkpoint records. */
  state(): OwnershipState {
    return this.adopted.length ? { version: this.current.version, adopted: this.adopted } : { version: this.current.version };
  }
}

function expand(ranges: ReadonlyArray<readonly [number, number]>): number[] {
  const out: number[] = [];
  for (const [a, b] of ranges) for (let s = a; s <= b; s++) out.push(s);
  return out;
}
