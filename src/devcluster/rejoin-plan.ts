import { MysqlGtidSet } from '../gtid/index.js';

/**
 * What a configured primary that another node replaced does to rejoin as that node's replica:
 * nothing (it already replicates from it), replicate by GTID from where it is (everything it
 * holds reached the new primary), or start over as a fresh replica (it holds errant
 * transactions — committed on it, never received by the new primary — which replication would
 * never reconcile).
 */
export type RejoinStep = { action: 'none' } | { action: 'replicate' } | { action: 'reprovision'; errant: string };

const MARIADB_GTID = /^(\d+)-(\d+)-(\d+)$/;

/** `gtid_binlog_state` text → the last sequence number per `domain-server`. */
function lastPerServer(state: string): Map<string, bigint> {
  const last = new Map<string, bigint>();
  for (const g of state.split(',').map((x) => x.trim())) {
    const m = MARIADB_GTID.exec(g);
    if (!m) continue;
    const key = `${m[1]}-${m[2]}`;
    const seq = BigInt(m[3]!);
    if ((last.get(key) ?? -1n) < seq) last.set(key, seq);
  }
  return last;
}

/**
 * MariaDB: what `own` (a node's `gtid_binlog_state`: the last GTID of every domain and server in
 * its binlog) holds that `writer` (the new primary's `gtid_binlog_state`) does not — per domain and
 * originating server, a later sequence number. Empty when the node is not ahead anywhere. Pure.
 * (A plain per-domain comparison of `gtid_binlog_pos` would miss the usual case: the new
 * primary's own writes carry higher sequence numbers than the old primary's lost ones.)
 */
export function mariadbErrant(own: string, writer: string): string {
  const theirs = lastPerServer(writer);
  const errant: string[] = [];
  for (const [key, seq] of lastPerServer(own)) {
    const have = theirs.get(key);
    if (have === undefined || have < seq)
      errant.push(`${key}-${seq} (the new primary has ${have === undefined ? 'none of them' : `up to ${key}-${have}`})`);
  }
  return errant.join(', ');
}

/**
 * The rejoin decision (pure): `followsWriter` when the node already replicates from the new
 * primary; otherwise its GTIDs against the new primary's — MySQL `gtid_executed` sets (errant:
 * its set minus the primary's), MariaDB `gtid_binlog_state` ({@link mariadbErrant}).
 */
export function rejoinStep(input: { flavour: 'mysql' | 'mariadb'; followsWriter: boolean; own: string; writer: string }): RejoinStep {
  if (input.followsWriter) return { action: 'none' };
  const errant =
    input.flavour === 'mysql'
      ? MysqlGtidSet.parse(input.own).minus(MysqlGtidSet.parse(input.writer)).toString()
      : mariadbErrant(input.own, input.writer);
  return errant ? { action: 'reprovision', errant } : { action: 'replicate' };
}

/**
 * The `server_id` a re-provisioned node replays its instance's history under (pure). Not its
 * own: a server skips replicated events that carry its own `server_id` (the loop guard of
 * circular replication, which MariaDB cannot lift while `log_slave_updates` is on), and that
 * history holds every transaction the node wrote as the primary. High in the 32-bit range, away
 * from the config's ids; the node restarts with its own id once it caught up.
 */
export function provisioningServerId(serverId: number): number {
  return 4_000_000_000 + (serverId % 100_000_000);
}
