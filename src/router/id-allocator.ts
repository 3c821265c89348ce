import { RoutingError } from '../errors/index.js';

/**
 * Leases the next block of `size` IDs of sequence `name` and returns its end (exclusive): the
 * block is `[end - size, end)`. Every lease of a name, by any process, returns a higher end.
 */
export type LeaseBlock = (name: string, size: number) => Promise<bigint>;

/** Tunables of {@link IdAllocator}. */
export interface IdAllocatorOptions {
  /** IDs in a sequence's first block in this process. */
  initialBlock: number;
  /** The largest block: a block used up in under a second leads to one twice its size, up to this. */
  maxBlock: number;
  /** Monotonic milliseconds (injected for tests). */
  now?: () => number;
}

const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
/** The largest ID (BIGINT UNSIGNED). */
const MAX_ID = 18446744073709551615n;

function badName(name: string, max: number): RoutingError {
  return new RoutingError(
    'ID_SEQUENCE',
    `an ID sequence name is 1-${max} of A-Z a-z 0-9 _ . : - (got ${JSON.stringify(name.slice(0, 80))})`,
  );
}

/** One sequence in this process: the block in use, the next one (leased ahead), the lease under way. */
class Sequence {
  next = 0n;
  end = 0n;
  ahead: { start: bigint; end: bigint } | null = null;
  leasing: Promise<void> | null = null;
  failure: unknown = null;
  block: number;
  blockStartedAt = 0;

  constructor(initialBlock: number) {
    this.block = initialBlock;
  }
}

/**
 * Global IDs from blocks leased in a shared table (a segment allocator, as Meituan's Leaf): unique
 * across processes and restarts (a block is never leased twice; a process that dies loses the
 * rest of its block, a gap, never a repeat), increasing within a process (its blocks are leased one
 * after another, each above the last). The next block is leased when half of the current one is
 * used, so callers wait only when a block runs out faster than a lease completes. Pure logic; the
 * lease is injected.
 */
export class IdAllocator {
  private readonly sequences = new Map<string, Sequence>();
  private readonly now: () => number;

  constructor(
    private readonly lease: LeaseBlock,
    private readonly options: IdAllocatorOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * The next ID of sequence `name`.
   * @throws {RoutingError} ID_SEQUENCE for a name that is not 1–64 of `A-Z a-z 0-9 _ . : -`, or when no block could be leased
   */
  next(name: string): Promise<bigint> {
    return this.draw(name, name);
  }

  /**
   * The next ID of sequence `name` that embeds `shard`: `n × shardCount + shard`, `n` from the
   * sequence's own counter (the segment row `<name>#`, a name callers cannot give, so these IDs
   * never meet the plain IDs of `name`). Unique and increasing per process like {@link next};
   * `id mod shardCount` is the shard.
   * @throws {RoutingError} ID_SEQUENCE for a bad name (at most 63 characters here), or past 2^64 − 1
   */
  nextEmbedded(name: string, shard: number, shardCount: number): Promise<bigint> {
    if (name.length > 63 || !NAME.test(name)) return Promise.reject(badName(name, 63));
    const count = BigInt(shardCount);
    return this.draw(`${name}#`, name).then((n) => {
      const id = n * count + BigInt(shard);
      if (id > MAX_ID) throw new RoutingError('ID_SEQUENCE', `sequence ${name} has run past 2^64 − 1 with its shard embedded`);
      return id;
    });
  }

  /** The next value of segment row `key` (`name`: the caller's sequence name, checked on first use). */
  private draw(key: string, name: string): Promise<bigint> {
    const s = this.sequences.get(key);
    if (s !== undefined) {
      if (s.next >= s.end && s.ahead) this.advance(s);
      if (s.next < s.end) {
        const id = s.next++;
        if (s.ahead === null && s.leasing === null && s.end - s.next <= BigInt(s.block >> 1)) this.leaseAhead(key, s);
        return Promise.resolve(id);
      }
    }
    return this.slow(key, name);
  }

  private async slow(key: string, name: string): Promise<bigint> {
    let s = this.sequences.get(key);
    if (!s) {
      if (!NAME.test(name)) throw badName(name, 64);
      s = new Sequence(Math.min(this.options.initialBlock, this.options.maxBlock));
      this.sequences.set(key, s);
    }
    for (;;) {
      if (s.next < s.end || s.ahead) return this.draw(key, name);
      if (!s.leasing) this.leaseAhead(key, s);
      await s.leasing;
      if (s.failure) {
        const cause = s.failure;
        s.failure = null;
        throw new RoutingError('ID_SEQUENCE', `no block of IDs could be leased for sequence ${name}`, { retriable: true, cause });
      }
    }
  }

  /** Moves to the block leased ahead; a block used up within a second makes later ones twice as large (fewer leases under load). */
  private advance(s: Sequence): void {
    const now = this.now();
    if (s.end > 0n && now - s.blockStartedAt < 1000) s.block = Math.min(this.options.maxBlock, s.block * 2);
    s.next = s.ahead!.start;
    s.end = s.ahead!.end;
    s.ahead = null;
    s.blockStartedAt = now;
  }

  private leaseAhead(name: string, s: Sequence): void {
    const size = s.block;
    s.failure = null;
    s.leasing = this.lease(name, size)
      .then((end) => {
        s.ahead = { start: end - BigInt(size), end };
      })
      .catch((err: unknown) => {
        s.failure = err;
      })
      .finally(() => {
        s.leasing = null;
      });
  }
}
