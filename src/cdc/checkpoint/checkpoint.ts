/**
 * Where a reader resumes: right after the last committed transaction it handed out. A
 * checkpoint is taken only at a transaction boundary (after XID or COMMIT), never inside one.
 */
export interface Checkpoint {
  instance: string;
  flavour: 'mysql' | 'mariadb';
  /** MySQL server_uuid (a file/pos is only meaningful on this server); null on MariaDB. */
  serverUuid: string | null;
  serverId: number;
  file: string;
  pos: number;
  /**
   * MySQL: the GTID set executed up to here; MariaDB: the GTID position (last GTID per domain).
   * Null when the reader started at a file/pos in the middle of a file and has not yet seen
   * the full set (it learns it at the next file's PREVIOUS_GTIDS / GTID_LIST).
   */
  gtidSet: string | null;
  /**
   * Present while XA branches prepared before `file:pos` are not committed yet (their rows are
   * published only at their XA COMMIT): a restart reads again from here — the start of the
   * earliest such prepare, with the GTID set before it — so that their rows are read again, and
   * hands out nothing of the transactions that end at or before `file:pos` (already published).
   */
  resume?: { file: string; pos: number; gtidSet: string | null };
}

/** Where a reader re-reads the binlog from after `checkpoint`: its `resume` point, else the checkpoint itself. */
export function readFrom(checkpoint: Checkpoint): { file: string; pos: number; gtidSet: string | null } {
  return checkpoint.resume ?? { file: checkpoint.file, pos: checkpoint.pos, gtidSet: checkpoint.gtidSet };
}

/** Is `a` at or after `b` in one server's binlog? Files compare by their numeric suffix. */
export function positionAtOrAfter(a: { file: string; pos: number }, b: { file: string; pos: number }): boolean {
  const seq = (f: string) => Number(/\.(\d+)$/.exec(f)?.[1] ?? -1);
  const fa = seq(a.file);
  const fb = seq(b.file);
  return fa > fb || (fa === fb && a.pos >= b.pos);
}
