import { parseApplied, type AppliedState } from '../gtid/index.js';
import type { DbConnection, InstanceEndpoint } from '../net/index.js';
import type { ConnectionFactory } from '../pool/index.js';
import { LagHistory, type ReplicaView } from './replica-lag.js';

/** One node the monitor probes on a dedicated connection (never a pool's: a busy pool must not blind it). */
class Probe {
  private conn: DbConnection | null = null;

  constructor(
    readonly endpoint: InstanceEndpoint,
    private readonly sql: string,
    private readonly factory: ConnectionFactory,
    private readonly timeoutMs: number,
  ) {}

  /** The node's executed GTIDs; throws when it does not answer in time. */
  async read(): Promise<AppliedState> {
    try {
      this.conn ??= await withTimeout(this.factory(this.endpoint), this.timeoutMs);
      const out = await this.conn.query(this.sql, [], this.timeoutMs);
      const text = out.kind === 'rows' ? out.rows[0]?.['g'] : undefined;
      return parseApplied(typeof text === 'string' ? text : '');
    } catch (err) {
      this.conn?.destroy();
      this.conn = null;
      throw err;
    }
  }

  close(): void {
    this.conn?.destroy();
    this.conn = null;
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A shard instance and its replicas as the monitor sees them. */
export interface MonitoredInstance {
  name: string;
  flavour: 'mysql' | 'mariadb';
  primary: InstanceEndpoint;
  replicas: { name: string; weight: number; endpoint: InstanceEndpoint; breakerOpen: () => boolean }[];
}

interface ReplicaState {
  probe: Probe;
  weight: number;
  breakerOpen: () => boolean;
  healthy: boolean;
  lagMs: number;
  executed: AppliedState | null;
}

interface Group {
  flavour: 'mysql' | 'mariadb';
  primary: Probe;
  history: LagHistory;
  replicas: Map<string, ReplicaState>;
  busy: boolean;
}

/**
 * Measures every replica's lag and health every `intervalMs`: the primary's executed GTIDs
 * (MySQL `gtid_executed`, MariaDB `gtid_binlog_pos`), then each replica's (MySQL
 * `gtid_executed`, MariaDB `gtid_slave_pos`), compared by {@link LagHistory}. A replica that
 * does not answer is unhealthy until it answers again; reads that fail on it mark it at once.
 * Started on the first read that may go to a replica; timers are unref'd.
 */
export class ReplicaMonitor {
  private readonly groups = new Map<string, Group>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    instances: readonly MonitoredInstance[],
    factory: ConnectionFactory,
    private readonly o: { intervalMs: number; maxLagMs: number },
  ) {
    const timeoutMs = Math.max(1000, 4 * o.intervalMs);
    for (const inst of instances) {
      if (inst.replicas.length === 0) continue;
      const mysql = inst.flavour === 'mysql';
      const replicas = new Map<string, ReplicaState>();
      for (const r of inst.replicas) {
        const probe = new Probe(
          r.endpoint,
          mysql ? 'SELECT @@global.gtid_executed AS g' : 'SELECT @@global.gtid_slave_pos AS g',
          factory,
          timeoutMs,
        );
        replicas.set(r.name, { probe, weight: r.weight, breakerOpen: r.breakerOpen, healthy: false, lagMs: Infinity, executed: null });
      }
      this.groups.set(inst.name, {
        flavour: inst.flavour,
        primary: new Probe(
          inst.primary,
          mysql ? 'SELECT @@global.gtid_executed AS g' : 'SELECT @@global.gtid_binlog_pos AS g',
          factory,
          timeoutMs,
        ),
        history: new LagHistory(Math.max(10_000, 2 * o.maxLagMs)),
        replicas,
        busy: false,
      });
    }
  }

  /** Whether `instance` has replicas at all. */
  has(instance: string): boolean {
    return this.groups.has(instance);
  }

  /** Starts measuring (idempotent); the first round runs at once. */
  start(): void {
    if (this.timer || this.closed || this.groups.size === 0) return;
    this.timer = setInterval(() => this.tick(), this.o.intervalMs);
    this.timer.unref();
    this.tick();
  }

  get started(): boolean {
    return this.timer !== null;
  }

  /** What is known of `instance`'s replicas now. */
  view(instance: string): ReplicaView[] {
    const g = this.groups.get(instance);
    if (!g) return [];
    const out: ReplicaView[] = [];
    for (const [name, r] of g.replicas)
      out.push({ name, weight: r.weight, healthy: r.healthy, lagMs: r.lagMs, executed: r.executed, breakerOpen: r.breakerOpen() });
    return out;
  }

  /** A read failed on `replica` for want of the server: skip it until its next probe answers. */
  markDown(instance: string, replica: string): void {
    const r = this.groups.get(instance)?.replicas.get(replica);
    if (r) r.healthy = false;
  }

  /** Runs one measuring round of every instance now (a round still running is not doubled). */
  tick(): void {
    for (const g of this.groups.values()) {
      if (g.busy || this.closed) continue;
      g.busy = true;
      void this.measure(g).finally(() => {
        g.busy = false;
      });
    }
  }

  private async measure(g: Group): Promise<void> {
    try {
      g.history.record(Date.now(), await g.primary.read());
    } catch {
      // the primary does not answer: the replicas' lag grows from the last sample
    }
    await Promise.all(
      [...g.replicas.values()].map(async (r) => {
        try {
          const executed = await r.probe.read();
          if (this.closed) return;
          r.executed = executed;
          r.lagMs = g.history.lagOf(executed, Date.now());
          r.healthy = true;
        } catch {
          r.healthy = false;
          r.lagMs = Infinity;
        }
      }),
    );
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const g of this.groups.values()) {
      g.primary.close();
      for (const r of g.replicas.values()) r.probe.close();
    }
  }
}
