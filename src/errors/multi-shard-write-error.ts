import { ShardlineError } from './shardline-error.js';

/**
 * What became of one instance's part of a multi-shard write:
 * - `committed`: its rows are written (its transaction, or its XA branch, committed);
 * - `rolled-back`: none of its rows are written (failed, rolled back, or never started);
 * - `unknown`: the connection was lost while its COMMIT (or XA COMMIT/PREPARE) was in flight, so
 *   the router cannot tell. With `atomic: true` an unknown branch is left prepared and
 *   `shardline xa recover` finishes it by the recorded decision (`recovery`).
 */
export type InstanceWriteStatus = 'committed' | 'rolled-back' | 'unknown';

/** One instance's part of a multi-shard write. */
export interface InstanceWriteOutcome {
  instance: string;
  status: InstanceWriteStatus;
  /** The logical shards whose statements ran (or were to run) on this instance, ascending. */
  shards: number[];
  /** Rows the instance's statements affected; 0 unless `committed`. */
  affectedRows: number;
  /** Why this instance did not commit (a QueryError or ShardUnavailableError), if it failed itself. */
  error?: Error;
  /** For `atomic: true`: what `shardline xa recover` will do with a branch left prepared. */
  recovery?: 'commit' | 'rollback';
  /** The GTID(s) the instance's commit got, as the server reported them (read-your-writes). */
  gtid?: string;
}

/**
 * A write whose rows span several instances failed on at least one of them. `instances` says,
 * per instance, whether its rows were written: without `atomic`, each instance is one transaction
 * of its own, so some may have committed while another rolled back; with `atomic: true` none
 * committed (all rolled back, or left prepared for `shardline xa recover`).
 *
 * `retriable` is true only when nothing was written anywhere (every instance rolled back) and
 * every failure was retriable (a lost connection, a deadlock): then the same call may simply be
 * tried again. `cause` is the first instance failure.
 *
 * @example
 * try {
 *   await router.query('INSERT INTO users (uid, name) VALUES (?, ?), (?, ?)', [1n, 'a', 2n, 'b']);
 * } catch (err) {
 *   if (err instanceof MultiShardWriteError) {
 *     for (const i of err.instances) console.log(i.instance, i.status, i.shards, i.affectedRows);
 *   }
 * }
 */
export class MultiShardWriteError extends ShardlineError {
  /** Every instance the write reached, in the order of the plan. */
  readonly instances: readonly InstanceWriteOutcome[];
  /** Whether the write ran with `atomic: true` (XA). */
  readonly atomic: boolean;

  constructor(
    message: string,
    instances: readonly InstanceWriteOutcome[],
    atomic: boolean,
    options: { retriable: boolean; cause?: unknown },
  ) {
    super('MULTI_SHARD_WRITE_FAILED', message, {
      retriable: options.retriable,
      cause: options.cause,
      details: {
        atomic,
        instances: instances.map((i) => ({
          instance: i.instance,
          status: i.status,
          shards: i.shards,
          affectedRows: i.affectedRows,
          ...(i.error ? { error: (i.error as { code?: unknown }).code ?? i.error.name } : {}),
          ...(i.recovery ? { recovery: i.recovery } : {}),
        })),
      },
    });
    this.instances = Object.freeze([...instances]);
    this.atomic = atomic;
  }

  /** Names of the instances whose rows are written. */
  get committed(): string[] {
    return this.instances.filter((i) => i.status === 'committed').map((i) => i.instance);
  }

  /** Names of the instances none of whose rows are written. */
  get rolledBack(): string[] {
    return this.instances.filter((i) => i.status === 'rolled-back').map((i) => i.instance);
  }

  /** Names of the instances whose outcome is unknown. */
  get unknown(): string[] {
    return this.instances.filter((i) => i.status === 'unknown').map((i) => i.instance);
  }
}

/** `shardline xa recover` could not list or resolve the prepared branches of an instance. */
export class XaRecoveryError extends ShardlineError {
  constructor(message: string, options: { retriable?: boolean; cause?: unknown; details?: Record<string, unknown> } = {}) {
    super('XA_RECOVERY_FAILED', message, options);
  }
}
