/** Options that change routing. */
export interface PlanOptions {
  /** Allow a statement without a shard-key predicate to run on every shard. */
  scatter?: boolean;
  /** The statement must stay on this shard (`forUid`, transactions). */
  shard?: number;
  /** Why the statement is pinned, for error messages. */
  pinnedBy?: 'forUid' | 'transaction';
  /** Which instance serves broadcast-only reads (round-robin counter). */
  readInstance?: number;
  /** Subqueries per UNION ALL round trip. */
  unionChunk?: number;
  /** The largest OFFSET of a multi-shard SELECT (every shard returns OFFSET + LIMIT rows). */
  maxOffset?: number;
  /** Groups and distinct values a multi-shard merge may hold. */
  maxGroups?: number;
}

/** {@link PlanOptions.maxOffset} when not set. */
export const DEFAULT_MAX_OFFSET = 10_000;
/** {@link PlanOptions.maxGroups} when not set. */
export const DEFAULT_MAX_GROUPS = 1_000_000;

/** Subqueries per UNION ALL round trip when {@link PlanOptions.unionChunk} is not set. */
export const DEFAULT_UNION_CHUNK = 256;
