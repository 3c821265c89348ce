import type { RowsEvent } from './transaction-items.js';

/** Where a prepared XA branch starts in the binlog, with the GTID set before it. */
export interface BranchStart {
  file: string;
  pos: number;
  gtidSet: string | null;
}

/** An XA branch read up to its XA_PREPARE: its rows, kept until its XA COMMIT or XA ROLLBACK. */
export interface PreparedBranch {
  start: BranchStart;
  rows: RowsEvent[];
}

/**
 * The XA branches prepared in the binlog read so far and not yet committed or rolled back, by
 * xid key, in binlog order (pure). The earliest one's start is where a reader must read again
 * from after a restart, so that no prepared branch's rows are skipped.
 */
export class PreparedXaBranches {
  private readonly branches = new Map<string, PreparedBranch>();

  /** Records a prepared branch (a second prepare of the same xid replaces the first: the first ended). */
  prepare(key: string, branch: PreparedBranch): void {
    this.branches.delete(key);
    this.branches.set(key, branch);
  }

  /** Removes and returns the branch of `key` (its XA COMMIT or ROLLBACK was read); undefined when unknown. */
  take(key: string): PreparedBranch | undefined {
    const branch = this.branches.get(key);
    this.branches.delete(key);
    return branch;
  }

  /** The start of the earliest branch still prepared, or null when none is. */
  earliest(): BranchStart | null {
    for (const b of this.branches.values()) return b.start;
    return null;
  }

  /** How many branches are prepared. */
  get size(): number {
    return this.branches.size;
  }
}
