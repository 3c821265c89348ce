import type { ClusterConfig } from '../config/index.js';
import { isShardlineError } from '../errors/index.js';
import type { AppliedState } from '../gtid/index.js';
import { MysqlGtidSet } from '../gtid/index.js';
import type { DbConnection, InstanceEndpoint, QueryOutcome, SocketLayer } from '../net/index.js';
import type { ConnectionFactory } from '../pool/index.js';
import { InstancePool } from '../pool/index.js';
import { pickReplica } from './replica-lag.js';
import { ReplicaMonitor } from './replica-monitor.js';

/** Where a read that may use a replica is to be served from, and what it must see. */
export interface ReadPolicy {
  /** The instance's GTIDs the read must see (a token), if any. */
  need: (instance: string) => AppliedState | undefined;
  maxLagMs: number;
  maxWaitMs: number;
}

/** How a replica read ended (for metrics): served there, or sent to the primary and why. */
export type ReplicaReadOutcome = 'replica' | 'replica-waited' | 'primary-no-replica' | 'primary-wait-timeout' | 'primary-replica-failed';

const WAITED_OUT = Symbol('waited out');

/**
 * Replica reads of the router: one pool per node (replicas' opened lazily), the lag and topology
 * monitor, and the
 * read path — pick a replica ({@link pickReplica}); when the read carries a token the replica is
 * not known to have applied, wait for it on that connection (`WAIT_FOR_EXECUTED_GTID_SET` /
 * `MASTER_GTID_WAIT`, at most `maxWaitMs`); on a timeout, or when the replica fails for want of
 * the server, the primary serves the read (reads are idempotent), so a dead replica costs
 * latency, never a failed read.
 */
export class ReplicaReads {
  private readonly pools = new Map<string, Map<string, InstancePool>>();
  private readonly flavours = new Map<string, 'mysql' | 'mariadb'>();
  readonly monitor: ReplicaMonitor;

  /**
   * @param primaries the router's pool of each instance's configured primary node (it joins the
   *   instance's nodes: after a failover it serves reads, and the promoted replica's pool writes)
   * @param onPrimaryChange a failover moved `instance`'s writes to the node whose pool is given
   */
  constructor(
    config: ClusterConfig,
    endpointOf: (
      node: { name: string; host: string; port: number; serverPublicKey?: string | undefined },
      inst: ClusterConfig['instances'][number],
    ) => InstanceEndpoint,
    factory: ConnectionFactory,
    primaries: ReadonlyMap<string, InstancePool>,
    layer: SocketLayer,
    private readonly queryTimeoutMs: number,
    private readonly onOutcome: (instance: string, outcome: ReplicaReadOutcome) => void,
    onPrimaryChange: (instance: string, pool: InstancePool, node: string, previous: string) => void,
  ) {
    const monitored = [];
    for (const inst of config.instances) {
      const replicas = inst.replicas ?? [];
      if (replicas.length === 0) continue;
      this.flavours.set(inst.name, inst.flavour);
      const primaryPool = primaries.get(inst.name)!;
      const pools = new Map<string, InstancePool>([[inst.name, primaryPool]]);
      for (const r of replicas)
        pools.set(r.name, new InstancePool(endpointOf(r, inst), { ...config.pool, min: 0 }, factory, primaryPool.shardRange, layer));
      this.pools.set(inst.name, pools);
      const breakerOpen = (name: string) => () => pools.get(name)!.breakerState() === 'open';
      monitored.push({
        name: inst.name,
        flavour: inst.flavour,
        primary: { name: inst.name, endpoint: endpointOf(inst, inst), breakerOpen: breakerOpen(inst.name) },
        replicas: replicas.map((r) => ({
          name: r.name,
          weight: r.weight,
          endpoint: endpointOf(r, inst),
          breakerOpen: breakerOpen(r.name),
        })),
      });
    }
    this.monitor = new ReplicaMonitor(monitored, factory, {
      intervalMs: config.router.replicaCheckMs,
      maxLagMs: config.router.maxReplicaLagMs,
      onPrimaryChange: (instance, node, previous) => onPrimaryChange(instance, this.pools.get(instance)!.get(node)!, node, previous),
    });
  }

  /** The pools of `instance`'s nodes other than the one taking writes now. */
  replicaPools(instance: string): { replica: string; pool: InstancePool }[] {
    const primary = this.monitor.primaryOf(instance);
    return [...(this.pools.get(instance) ?? [])].filter(([name]) => name !== primary).map(([replica, pool]) => ({ replica, pool }));
  }

  /** Whether `instance` has replicas. */
  has(instance: string): boolean {
    return this.pools.has(instance);
  }

  /**
   * Runs a read of `instance` on a replica by `policy`, or on the primary (`primary`) when no
   * replica qualifies, the wait for the token times out, or the replica fails for want of the
   * server. Errors of the statement itself (syntax, unknown column) are the caller's.
   */
  async read(
    instance: string,
    sql: string,
    params: readonly unknown[],
    policy: ReadPolicy,
    primary: () => Promise<QueryOutcome>,
  ): Promise<QueryOutcome> {
    const pick = this.pick(instance, policy);
    if (!pick) return primary();
    const { wait } = pick;
    let out: QueryOutcome | typeof WAITED_OUT;
    try {
      out = await pick.pool.use(async (conn) => {
        if (wait !== undefined && !(await this.waitApplied(conn, instance, wait, policy.maxWaitMs))) return WAITED_OUT;
        return conn.query(sql, params, this.queryTimeoutMs);
      });
    } catch (err) {
      if (!unavailable(err)) throw err;
      this.monitor.markDown(instance, pick.replica);
      this.onOutcome(instance, 'primary-replica-failed');
      return primary();
    }
    if (out === WAITED_OUT) {
      this.onOutcome(instance, 'primary-wait-timeout');
      return primary();
    }
    this.onOutcome(instance, wait ? 'replica-waited' : 'replica');
    return out;
  }

  /**
   * A borrowed connection of a replica of `instance` for a streamed read, picked as {@link read}
   * picks and, when the read carries a token the replica is not known to have applied, waited on
   * until it has (at most `maxWaitMs`). Null when the primary is to serve: no replica qualifies,
   * the wait timed out, or the replica is unavailable. The caller releases `conn` to `pool`.
   */
  async borrowForRead(instance: string, policy: ReadPolicy): Promise<{ pool: InstancePool; conn: DbConnection } | null> {
    const pick = this.pick(instance, policy);
    if (!pick) return null;
    const { pool, wait } = pick;
    let conn: DbConnection | undefined;
    try {
      conn = await pool.acquire();
      if (wait !== undefined && !(await this.waitApplied(conn, instance, wait, policy.maxWaitMs))) {
        await pool.release(conn);
        this.onOutcome(instance, 'primary-wait-timeout');
        return null;
      }
    } catch (err) {
      if (conn) await pool.release(conn);
      if (!unavailable(err)) throw err;
      this.monitor.markDown(instance, pick.replica);
      this.onOutcome(instance, 'primary-replica-failed');
      return null;
    }
    this.onOutcome(instance, wait ? 'replica-waited' : 'replica');
    return { pool, conn };
  }

  /**
   * The replica a read of `instance` goes to by `policy` ({@link pickReplica}), with the token to
   * wait for there when it is not known to have applied it; null (the outcome recorded) when the
   * primary is to serve, or `instance` has no replicas.
   */
  private pick(instance: string, policy: ReadPolicy): { replica: string; pool: InstancePool; wait: AppliedState | undefined } | null {
    const pools = this.pools.get(instance);
    if (!pools) return null;
    if (!this.monitor.started) void this.monitor.start();
    const need = policy.need(instance);
    const pick = pickReplica(this.monitor.view(instance), policy.maxLagMs, need, Math.random());
    if (!pick) {
      this.onOutcome(instance, 'primary-no-replica');
      return null;
    }
    return {
      replica: pick.replica.name,
      pool: pools.get(pick.replica.name)!,
      wait: need !== undefined && !pick.covered ? need : undefined,
    };
  }

  /** Waits on the replica until it has applied `need`, at most `maxWaitMs`; false on a timeout. */
  private async waitApplied(conn: DbConnection, instance: string, need: AppliedState, maxWaitMs: number): Promise<boolean> {
    if (maxWaitMs <= 0) return false;
    const seconds = Math.max(0.001, maxWaitMs / 1000);
    const mysql = this.flavours.get(instance) === 'mysql' && need instanceof MysqlGtidSet;
    const sql = mysql ? 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS w' : 'SELECT MASTER_GTID_WAIT(?, ?) AS w';
    const out = await conn.query(sql, [need.toString(), seconds], maxWaitMs + this.queryTimeoutMs);
    const w = out.kind === 'rows' ? Number(out.rows[0]?.['w']) : NaN;
    return w === 0;
  }

  /** Closes the monitor and the replicas' pools (the router closes the pools it writes through). */
  async close(writing: ReadonlySet<InstancePool>): Promise<void> {
    await this.monitor.close();
    const pools = [...this.pools.values()].flatMap((m) => [...m.values()]).filter((p) => !writing.has(p));
    await Promise.all(pools.map((p) => p.close()));
  }
}

/** The replica could not serve (connection lost or refused, pool timed out, breaker open), as opposed to the statement failing. */
function unavailable(err: unknown): boolean {
  if (!isShardlineError(err)) {
    const kind = (err as { kind?: string }).kind;
    return (
      kind === 'connection' ||
      kind === 'auth' ||
      kind === 'unknown-host' ||
      (kind !== 'client' && (err as { fatal?: boolean }).fatal === true)
    );
  }
  return err.code === 'SHARD_UNAVAILABLE' || err.code === 'POOL_TIMEOUT' || err.code === 'POOL_EXHAUSTED';
}
