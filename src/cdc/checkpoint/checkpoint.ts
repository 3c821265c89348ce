import type { VersionEpoch } from '../events/source-version.js';

/**
 * Shards an instance took over from another by a shard move, with how their versions continue:
 * `version = base + L(p) − origin`, where `L` is the instance's own version of a position (its
 * {@link VersionEpoch}), `origin` = `L` of the shard-map row that gave the shards to it, and
 * `base` lies above every version the previous owners published for them. Decimal strings.
 */
export interface AdoptedShards {
  /** Inclusive ranges of shard numbers, ascending. */
  ranges: Array<[number, number]>;
  base: string;
  origin: string;
  /** The shard-map version that gave them, and the instance they came from. */
  map: number;
  from: string;
}

/** What a checkpoint records of the shards its reader owns: the shard-map version in force at its position, and adopted shards. */
export interface OwnershipState {
  version: number;
  adopted?: AdoptedShards[];
}

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
  /** How this server's positions become versions (absent: epoch 0, the identity) — see {@link VersionEpoch}. */
  epoch?: VersionEpoch;
  /**
   * The shard-map version in force at this position of the instance's binlog, and the shards its
   * reader took over by a shard move with how their versions continue (absent: the latest
   * published map when the reader starts).
   */
  shardMap?: OwnershipState;
  /**
   * Per `topic:partition`, the offset of the last message this instance's reader has written
   * there, cumulative over its Kafka transactions (decimal). A consumer group has applied every
   * change up to this checkpoint once its committed offset is above each of them (sink progress).
   */
  written?: Record<string, string>;
  /** Commit time (µs since the epoch) of the last source transaction up to here, where known. */
  sourceTsUs?: number;
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

/**
 * Is `facts` another server than the one `checkpoint` was taken on? MySQL compares server_uuid;
 * MariaDB (no uuid) server_id. Positions of another server do not compare; GTIDs do.
 */
export function otherServer(
  checkpoint: Pick<Checkpoint, 'serverUuid' | 'serverId'>,
  facts: { serverUuid: string | null; serverId: number },
): boolean {
  if (checkpoint.serverUuid !== null && facts.serverUuid !== null) return checkpoint.serverUuid !== facts.serverUuid;
  return checkpoint.serverId !== facts.serverId;
}
