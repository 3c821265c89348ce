import { isShardlineXid, parseGtrid, type Xid } from './xa-xid.js';

/** A prepared branch found by `XA RECOVER` on an instance. */
export interface PreparedBranch {
  instance: string;
  xid: Xid;
}

/** What recovery does with one branch. */
export type RecoveryAction = 'commit' | 'rollback' | 'wait' | 'foreign';

/**
 * The action for a prepared branch (pure): `foreign` for branches that are not shardline's (left
 * alone); `wait` for branches begun less than `olderThanMs` ago (their coordinator may still be
 * running); else `commit` when a commit decision is recorded for its gtrid, `rollback` otherwise
 * (presumed abort: recovery records the abort first, so a late coordinator cannot commit).
 */
export function recoveryAction(
  branch: PreparedBranch,
  decision: 'commit' | 'abort' | undefined,
  nowMs: number,
  olderThanMs: number,
): RecoveryAction {
  if (!isShardlineXid(branch.xid)) return 'foreign';
  if (decision === 'commit') return 'commit';
  if (decision === 'abort') return 'rollback';
  const g = parseGtrid(branch.xid.gtrid)!;
  return nowMs - g.begunAtMs < olderThanMs ? 'wait' : 'rollback';
}
