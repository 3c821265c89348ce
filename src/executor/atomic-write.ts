import type { InstanceWriteOutcome } from '../errors/index.js';
import type { BatchReply, BatchStatement } from '../net/index.js';
import type { RoutePlan } from '../sql/index.js';
import { batchError, executeBatchedWrite, statementRows, type BatchSession, type WithBatchSession } from './batched-write.js';
import { wrapQueryError } from './execute-plan.js';
import { groupByInstance, type InstanceBatch } from './instance-batches.js';
import type { WriteResult } from './merge-results.js';
import { writeResult } from './write-outcomes.js';
import { branchXid, xidSql } from './xa-xid.js';

/** The I/O an atomic write needs beyond its batch connections. */
export interface AtomicWriteIo {
  withSession: WithBatchSession;
  /** A new gtrid (see `formatGtrid`). */
  newGtrid(): string;
  /**
   * Records the commit decision of `gtrid` durably, unless `xa recover` recorded an abort first;
   * returns the decision that holds. Rejects when it cannot tell (then the branches stay prepared).
   */
  decide(gtrid: string): Promise<'commit' | 'rollback'>;
  /** Forgets a decision once every branch is committed (best effort). */
  forget(gtrid: string): Promise<void>;
  /** Runs one statement on a fresh connection of `instance` (to finish a branch whose connection was lost). */
  runOnce(instance: string, sql: string): Promise<void>;
  /** Test seam: called when every branch is prepared, before the decision. */
  afterPrepare?: (gtrid: string) => Promise<void>;
  /** Test seam: called after the commit decision is recorded, before any XA COMMIT. */
  afterDecision?: (gtrid: string) => Promise<void>;
}

const sql = (text: string): BatchStatement => ({ sql: text, params: [] });

/** XA START; the instance's statements; XA END; XA PREPARE — one round trip. */
export function prepareStatements(b: InstanceBatch, xid: string): BatchStatement[] {
  return [
    sql(`XA START ${xid}`),
    ...b.targets.map((t) => ({ sql: t.sql, params: t.params })),
    sql(`XA END ${xid}`),
    sql(`XA PREPARE ${xid}`),
  ];
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The phase-1 reply of one instance (`null`: no connection could be had). */
type Prepared = { reply: BatchReply; statements: BatchStatement[] } | null;

/** Decision `undefined`: it could not be recorded nor read; the branches stay prepared. */
type Decision = 'commit' | 'rollback' | undefined;

async function finishLost(io: AtomicWriteIo, instance: string, xid: string, action: 'COMMIT' | 'ROLLBACK'): Promise<boolean> {
  try {
    await io.runOnce(instance, `XA ${action} ${xid}`);
    return true;
  } catch {
    return false;
  }
}

async function runBranch(
  b: InstanceBatch,
  gtrid: string,
  io: AtomicWriteIo,
  prepared: Deferred<Prepared>,
  decision: Promise<Decision>,
): Promise<InstanceWriteOutcome> {
  const base = { instance: b.instance, shards: b.shards, affectedRows: 0 };
  const xid = xidSql(branchXid(gtrid, b.instance));
  let reported = false;
  try {
    return await io.withSession(b.instance, async (s: BatchSession): Promise<InstanceWriteOutcome> => {
      const statements = prepareStatements(b, xid);
      const reply = await s.batch(statements);
      reported = true;
      prepared.resolve({ reply, statements });
      if (reply.error) {
        const error = batchError(b, reply, statements);
        if (reply.connectionLost) {
          // PREPARE may have run: roll the branch back from another connection; if that fails,
          // it is prepared or gone, and `xa recover` rolls it back (no commit decision exists).
          const done = await finishLost(io, b.instance, xid, 'ROLLBACK');
          return { ...base, status: done ? 'rolled-back' : 'unknown', error, ...(done ? {} : { recovery: 'rollback' as const }) };
        }
        const end = await s.batch([sql(`XA END ${xid}`)]);
        const rb = await s.batch([sql(`XA ROLLBACK ${xid}`)]);
        if (end.connectionLost || rb.error) s.discard();
        return { ...base, status: 'rolled-back', error };
      }
      const rows = statementRows(reply, 1, b.targets.length);
      const d = await decision;
      if (d === undefined) return { ...base, status: 'unknown' };
      const action = d === 'commit' ? 'COMMIT' : 'ROLLBACK';
      const r = await s.batch([sql(`XA ${action} ${xid}`)]);
      let ok = !r.error;
      if (!ok) {
        s.discard();
        ok = r.connectionLost === true && (await finishLost(io, b.instance, xid, action));
      }
      if (ok)
        return d === 'commit'
          ? { ...base, status: 'committed', affectedRows: rows, ...(r.gtids ? { gtid: r.gtids.join(',') } : {}) }
          : { ...base, status: 'rolled-back' };
      return {
        ...base,
        status: 'unknown',
        recovery: d,
        error: wrapQueryError(r.error, { instance: b.instance, shards: b.shards, sql: `XA ${action}` }),
      };
    });
  } catch (err) {
    if (!reported) prepared.resolve(null);
    return { ...base, status: 'rolled-back', error: wrapQueryError(err, b) };
  }
}

/**
 * Runs a write plan atomically across instances with XA: every instance runs `XA START; its
 * statements; XA END; XA PREPARE` in one round trip (in parallel); when all prepared, the commit
 * decision is recorded (`io.decide`), then `XA COMMIT` goes to every branch; when any failed to
 * prepare, `XA ROLLBACK` to all. Presumed abort: a branch left prepared without a recorded commit
 * decision is rolled back by `shardline xa recover`. A plan on one instance is one ordinary
 * transaction (as atomic, and no XA in the binlog).
 * @throws {MultiShardWriteError} when the write did not commit everywhere.
 */
export async function executeAtomicWrite(plan: RoutePlan, io: AtomicWriteIo): Promise<WriteResult> {
  const batches = groupByInstance(plan.targets);
  if (batches.length === 1) return executeBatchedWrite(plan, io.withSession);
  const gtrid = io.newGtrid();
  const prepared = batches.map(() => deferred<Prepared>());
  const decision = deferred<Decision>();
  const branches = batches.map((b, i) => runBranch(b, gtrid, io, prepared[i]!, decision.promise));
  const replies = await Promise.all(prepared.map((p) => p.promise));
  let d: Decision = 'rollback';
  if (replies.every((r) => r !== null && !r.reply.error)) {
    await io.afterPrepare?.(gtrid);
    try {
      d = await io.decide(gtrid);
    } catch {
      d = undefined;
    }
    if (d === 'commit') await io.afterDecision?.(gtrid);
  }
  decision.resolve(d);
  const outcomes = await Promise.all(branches);
  if (d === 'commit' && outcomes.every((o) => o.status === 'committed')) await io.forget(gtrid).catch(() => undefined);
  return writeResult(outcomes, true);
}
