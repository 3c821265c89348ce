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
 * Replica reads of the router: one pool per replica (opened lazily), the lag monitor, and the
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

  constructor(
    config: ClusterConfig,
    endpointOf: (
      inst: { name: string; host: string; port: number; serverPublicKey?: string | undefined },
      primary: ClusterConfig['instances'][number],
    ) => InstanceEndpoint,
    factory: ConnectionFactory,
    shardRange: (instance: string) => string,
    layer: SocketLayer,
    private readonly queryTimeoutMs: number,
    private readonly onOutcome: (instance: string, outcome: ReplicaReadOutcome) => void,
  ) {
    const monitored = [];
    for (const inst of config.instances) {
      const replicas = inst.replicas ?? [];
      if (replicas.length === 0) continue;
      this.flavours.set(inst.name, inst.flavour);
      const pools = new Map<string, InstancePool>();
      for (const r of replicas)
        pools.set(r.name, new InstancePool(endpointOf(r, inst), { ...config.pool, min: 0 }, factory, shardRange(inst.name), layer));
      this.pools.set(inst.name, pools);
      monitored.push({
        name: inst.name,
        flavour: inst.flavour,
        primary: endpointOf(inst, inst),
        replicas: replicas.map((r) => ({
          name: r.name,
          weight: r.weight,
          endpoint: endpointOf(r, inst),
          breakerOpen: () => pools.get(r.name)!.breakerState() === 'open',
        })),
      });
    }
    this.monitor = new ReplicaMonitor(monitored, factory, {
      intervalMs: config.router.replicaCheckMs,
      maxLagMs: config.router.maxReplicaLagMs,
    });
  }

  /** Whether `instance` has replicas. */
  has(instance: string): boolean {
    return this.pools.has(instance);
  }

  /** Every replica pool, by instance. */
  allPools(): { instance: string; replica: string; pool: InstancePool }[] {
    const out = [];
    for (const [instance, pools] of this.pools) for (const [replica, pool] of pools) out.push({ instance, replica, pool });
    return out;
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
    const pools = this.pools.get(instance);
    if (!pools) return primary();
    if (!this.monitor.started) this.monitor.start();
    const need = policy.need(instance);
    const pick = pickReplica(this.monitor.view(instance), policy.maxLagMs, need, Math.random());
    if (!pick) {
      this.onOutcome(instance, 'primary-no-replica');
      return primary();
    }
    const wait = need !== undefined && !pick.covered ? need : undefined;
    let out: QueryOutcome | typeof WAITED_OUT;
    try {
      out = await pools.get(pick.replica.name)!.use(async (conn) => {
        if (wait !== undefined && !(await this.waitApplied(conn, instance, wait, policy.maxWaitMs))) return WAITED_OUT;
        return conn.query(sql, params, this.queryTimeoutMs);
      });
    } catch (err) {
      if (!unavailable(err)) throw err;
      this.monitor.markDown(instance, pick.replica.name);
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

  async close(): Promise<void> {
    this.monitor.close();
    await Promise.all(this.allPools().map((p) => p.pool.close()));
  }
}

/** The replica could not serve (connection lost or refused, pool timed out, breaker open), as opposed to the statement failing. */
function unavailable(err: unknown): boolean {
  if (!isShardlineError(err)) {
    const kind = (err as { kind?: string }).kind;
    return kind === 'connection' || kind === 'auth' || kind === 'unknown-host' || (err as { fatal?: boolean }).fatal === true;
  }
  return err.code === 'SHARD_UNAVAILABLE' || err.code === 'POOL_TIMEOUT' || err.code === 'POOL_EXHAUSTED';
}
