import type { InstanceWriteOutcome } from '../errors/index.js';
import type { BatchReply, BatchStatement } from '../net/index.js';
import type { RoutePlan } from '../sql/index.js';
import { wrapQueryError } from './execute-plan.js';
import { groupByInstance, type InstanceBatch } from './instance-batches.js';
import type { WriteResult } from './merge-results.js';
import { writeResult } from './write-outcomes.js';

/** A borrowed multi-statement connection of one instance, as the batched writes see it. */
export interface BatchSession {
  /** Runs the statements in one round trip (never throws; see BatchReply). */
  batch(statements: readonly BatchStatement[]): Promise<BatchReply>;
  /** Marks the connection for destruction at release (its session state is not known to be clean). */
  discard(): void;
}

/**
 * Borrows a batch connection of `instance` for `fn` and releases it on every path; rejects when
 * no connection can be had (then nothing ran there).
 */
export type WithBatchSession = <T>(instance: string, fn: (session: BatchSession) => Promise<T>) => Promise<T>;

const START: BatchStatement = { sql: 'START TRANSACTION', params: [] };
const COMMIT: BatchStatement = { sql: 'COMMIT', params: [] };
const ROLLBACK: BatchStatement = { sql: 'ROLLBACK', params: [] };

/** The statements of one instance's transaction: START TRANSACTION, its round trips, COMMIT. */
export function transactionStatements(b: InstanceBatch): BatchStatement[] {
  return [START, ...b.targets.map((t) => ({ sql: t.sql, params: t.params })), COMMIT];
}

/** Rows affected by the plan's statements of a batch (without the control statements around them). */
export function statementRows(reply: BatchReply, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) n += reply.affectedRows[i] ?? 0;
  return n;
}

/** The error of a failed batch, named after its instance, shards and the statement that failed. */
export function batchError(b: InstanceBatch, reply: BatchReply, statements: readonly BatchStatement[]): Error {
  return wrapQueryError(reply.error, { instance: b.instance, shards: b.shards, sql: statements[reply.done]?.sql ?? '' });
}

async function runInstance(b: InstanceBatch, withSession: WithBatchSession): Promise<InstanceWriteOutcome> {
  const base = { instance: b.instance, shards: b.shards, affectedRows: 0 };
  const statements = transactionStatements(b);
  try {
    return await withSession(b.instance, async (s) => {
      const reply = await s.batch(statements);
      if (!reply.error)
        return {
          ...base,
          status: 'committed',
          affectedRows: statementRows(reply, 1, b.targets.length),
          ...(reply.gtids ? { gtid: reply.gtids.join(',') } : {}),
        };
      const error = batchError(b, reply, statements);
      // Lost while the packet was out: its COMMIT may have run.
      if (reply.connectionLost) return { ...base, status: 'unknown', error };
      // The server stopped at the error; the transaction is open (or gone): roll it back. A
      // failed ROLLBACK drops the connection, and the server rolls back an uncommitted transaction.
      const rb = await s.batch([ROLLBACK]);
      if (rb.error) s.discard();
      return { ...base, status: 'rolled-back', error };
    });
  } catch (err) {
    return { ...base, status: 'rolled-back', error: wrapQueryError(err, b) };
  }
}

/**
 * Runs a write plan as one transaction per instance, each in one round trip (START TRANSACTION;
 * the instance's statements; COMMIT — one multi-statement packet), the instances in parallel.
 * @throws {MultiShardWriteError} when an instance did not commit (see `writeResult`).
 */
export async function executeBatchedWrite(plan: RoutePlan, withSession: WithBatchSession): Promise<WriteResult> {
  const batches = groupByInstance(plan.targets);
  const outcomes = await Promise.all(batches.map((b) => runInstance(b, withSession)));
  return writeResult(outcomes, false);
}
