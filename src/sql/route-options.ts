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
}

/** Subqueries per UNION ALL round trip when {@link PlanOptions.unionChunk} is not set. */
export const DEFAULT_UNION_CHUNK = 256;
