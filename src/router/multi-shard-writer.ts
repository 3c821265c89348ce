import os from 'node:os';
import type { ClusterConfig } from '../config/index.js';
import { isShardlineError } from '../errors/index.js';
import {
  coordinatorId,
  executeAtomicWrite,
  executeBatchedWrite,
  formatGtrid,
  xaDecisionSql,
  type AtomicWriteIo,
  type BatchSession,
  type WriteResult,
} from '../executor/index.js';
import type { BatchReply, BatchStatement, DbConnection, SocketLayer } from '../net/index.js';
import { InstancePool, type ConnectionFactory } from '../pool/index.js';
import type { RoutePlan } from '../sql/index.js';

/** Statements one by one on a connection without `batch` (a custom connection factory). */
async function sequentialBatch(conn: DbConnection, statements: readonly BatchStatement[], timeoutMs: number): Promise<BatchReply> {
  const affectedRows: number[] = [];
  for (const s of statements) {
    try {
      const o = await conn.query(s.sql, s.params, timeoutMs);
      affectedRows.push(o.kind === 'ok' ? o.affectedRows : 0);
    } catch (error) {
      const kind = (isShardlineError(error) ? undefined : (error as { kind?: unknown }).kind) ?? undefined;
      return { done: affectedRows.length, affectedRows, error, connectionLost: conn.broken || kind === 'connection' };
    }
  }
  return { done: affectedRows.length, affectedRows };
}

/**
 * Multi-shard writes for the router: one small pool per instance of connections opened with
 * multipleStatements (created on first use), batched transactions per instance, and XA
 * (`atomic: true`) with its decision records in `<metaDatabase>.xa_decisions` on the first
 * instance of the config.
 */
export class MultiShardWriter {
  private readonly batchPools = new Map<string, InstancePool>();
  private readonly coordinator = coordinatorId(os.hostname(), process.pid);
  private counter = 0;
  private decisionTable: Promise<void> | null = null;
  private readonly sqlOf: ReturnType<typeof xaDecisionSql>;
  /** Test seams of atomic writes (see AtomicWriteIo); unset in normal use. */
  hooks: Pick<AtomicWriteIo, 'afterPrepare' | 'afterDecision'> = {};

  constructor(
    private readonly config: ClusterConfig,
    private readonly batchFactory: ConnectionFactory,
    /** The router's own pools (single statements: decisions, finishing a lost branch). */
    private readonly pool: (instance: string) => InstancePool,
    private readonly queryTimeoutMs: number,
    private readonly layer: SocketLayer,
  ) {
    this.sqlOf = xaDecisionSql(config.sharding.naming.metaDatabase);
  }

  /** Runs a write plan with several round trips: batched per instance, or atomically with XA. */
  write(plan: RoutePlan, atomic: boolean): Promise<WriteResult> {
    return atomic ? executeAtomicWrite(plan, this.atomicIo()) : executeBatchedWrite(plan, (i, fn) => this.withSession(i, fn));
  }

  /** The instance's writes moved to another node (failover): its batch connections go, new ones follow the new primary. */
  forget(instance: string): void {
    const p = this.batchPools.get(instance);
    this.batchPools.delete(instance);
    void p?.close();
  }

  private batchPool(instance: string): InstancePool {
    let p = this.batchPools.get(instance);
    if (!p) {
      const main = this.pool(instance);
      const cfg = { ...this.config.pool, min: 0, max: this.config.pool.batchMax };
      p = new InstancePool(main.endpoint, cfg, this.batchFactory, main.shardRange, this.layer);
      this.batchPools.set(instance, p);
    }
    return p;
  }

  private async withSession<T>(instance: string, fn: (s: BatchSession) => Promise<T>): Promise<T> {
    return this.batchPool(instance).use(async (conn) => {
      let discard = false;
      const session: BatchSession = {
        batch: (statements) =>
          conn.batch ? conn.batch(statements, this.queryTimeoutMs) : sequentialBatch(conn, statements, this.queryTimeoutMs),
        discard: () => {
          discard = true;
        },
      };
      try {
        return await fn(session);
      } finally {
        if (discard) conn.destroy();
      }
    });
  }

  private get coordinatorInstance(): string {
    return this.config.instances[0]!.name;
  }

  private run(instance: string, sql: string, params: readonly unknown[] = []) {
    return this.pool(instance).use((conn) => conn.query(sql, params, this.queryTimeoutMs));
  }

  private ensureDecisionTable(): Promise<void> {
    this.decisionTable ??= (async () => {
      await this.run(this.coordinatorInstance, this.sqlOf.createDatabase);
      await this.run(this.coordinatorInstance, this.sqlOf.createTable);
    })().catch((err: unknown) => {
      this.decisionTable = null;
      throw err;
    });
    return this.decisionTable;
  }

  private async readDecision(gtrid: string): Promise<'commit' | 'rollback'> {
    await this.run(this.coordinatorInstance, this.sqlOf.recordAbort, [gtrid]);
    const r = await this.run(this.coordinatorInstance, this.sqlOf.read, [gtrid]);
    const d = r.kind === 'rows' ? r.rows[0]?.['decision'] : undefined;
    return d === 'commit' ? 'commit' : 'rollback';
  }

  private atomicIo(): AtomicWriteIo {
    return {
      withSession: (i, fn) => this.withSession(i, fn),
      newGtrid: () => formatGtrid({ coordinator: this.coordinator, begunAtMs: Date.now(), counter: this.counter++ }),
      decide: async (gtrid) => {
        await this.ensureDecisionTable();
        try {
          await this.run(this.coordinatorInstance, this.sqlOf.recordCommit, [gtrid]);
          return 'commit';
        } catch {
          // A duplicate (recovery decided first), or the INSERT failed or its outcome was lost:
          // whatever is recorded now — an abort when nothing is — is the decision.
          return this.readDecision(gtrid);
        }
      },
      forget: async (gtrid) => {
        await this.run(this.coordinatorInstance, this.sqlOf.forget, [gtrid]);
      },
      runOnce: async (instance, sql) => {
        await this.run(instance, sql);
      },
      ...this.hooks,
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.batchPools.values()].map((p) => p.close()));
  }
}
