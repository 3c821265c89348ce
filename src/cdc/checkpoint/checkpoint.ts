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
}

/** Is `a` at or after `b` in one server's binlog? Files compare by their numeric suffix. */
export function positionAtOrAfter(a: { file: string; pos: number }, b: { file: string; pos: number }): boolean {
  const seq = (f: string) => Number(/\.(\d+)$/.exec(f)?.[1] ?? -1);
  const fa = seq(a.file);
  const fb = seq(b.file);
  return fa > fb || (fa === fb && a.pos >= b.pos);
}
