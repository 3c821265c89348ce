import type { ResultSetHeader } from 'mysql2';

/** Which server's session tracking reports the GTIDs a session commits. */
export type GtidTracking = 'mysql' | 'mariadb';

/**
 * Session settings that make the server report, in the OK packet of every statement that commits,
 * the GTID it committed: MySQL `session_track_gtids = OWN_GTID`, MariaDB the `last_gtid`
 * variable through `session_track_system_variables`. No extra round trip, a few bytes per commit.
 */
export function gtidTrackingAssignment(tracking: GtidTracking): string {
  return tracking === 'mysql' ? 'session_track_gtids = OWN_GTID' : "session_track_system_variables = 'last_gtid'";
}

interface SessionStateChanges {
  systemVariables?: Record<string, string>;
  gtids?: string[];
}

/** The GTID(s) an OK packet reports as committed by this session (MySQL: a GTID set; MariaDB: `domain-server-seq`), if any. */
export function committedGtid(ok: ResultSetHeader | undefined): string | undefined {
  const changes = (ok as (ResultSetHeader & { stateChanges?: SessionStateChanges }) | undefined)?.stateChanges;
  if (!changes) return undefined;
  const gtids = changes.gtids?.map((g) => g.trim()).filter(Boolean);
  if (gtids?.length) return gtids.join(',');
  const last = changes.systemVariables?.['last_gtid'];
  return last ? last : undefined;
}
