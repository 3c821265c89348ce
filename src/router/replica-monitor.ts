import { parseApplied, type AppliedState } from '../gtid/index.js';
import type { DbConnection, InstanceEndpoint } from '../net/index.js';
import type { ConnectionFactory } from '../pool/index.js';
import { LagHistory, type ReplicaView } from './replica-lag.js';

/** What a probe of one node found: its executed GTIDs and whether it refuses writes. */
interface NodeReading {
  state: AppliedState;
  readOnly: boolean;
}

/** One node the monitor probes on a dedicated connection (never a pool's: a busy pool must not blind it). */
class Probe {
  private conn: DbConnection | null = null;
  /** A connection being opened (awaited by `close`: a handshake must not finish after the router closed). */
  private opening: Promise<unknown> | null = null;
  private closed = false;

  constructor(
    readonly endpoint: InstanceEndpoint,
    private readonly factory: ConnectionFactory,
    private readonly timeoutMs: number,
  ) {}

  /** Runs `sql` (columns `g`: GTIDs, `ro`: read_only); throws when the node does not answer in time. */
  async read(sql: string): Promise<NodeReading> {
    if (this.closed) throw new Error('the monitor is closed');
    try {
      if (!this.conn) {
        const conn = await this.open();
        if (this.closed) {
          conn.destroy();
          throw new Error('the monitor is closed');
        }
        this.conn = conn;
      }
      const out = await this.conn.query(sql, [], this.timeoutMs);
      const row = out.kind === 'rows' ? out.rows[0] : undefined;
      const text = row?.['g'];
      return { state: parseApplied(typeof text === 'string' ? text : ''), readOnly: Number(row?.['ro'] ?? 1) !== 0 };
    } catch (err) {
      this.conn?.destroy();
      this.conn = null;
      throw err;
    }
  }

  /** Opens the probe's connection; one that comes too late (timed out, or the monitor closed) is closed when it arrives. */
  private async open(): Promise<DbConnection> {
    let abandoned = false;
    const opening = this.factory(this.endpoint).then((c) => {
      if (abandoned || this.closed) {
        c.destroy();
        throw new Error('the monitor no longer wants this connection');
      }
      return c;
    });
    this.opening = opening.catch(() => undefined);
    try {
      return await withTimeout(opening, this.timeoutMs);
    } catch (err) {
      abandoned = true;
      throw err;
    }
  }

  /** Closes the connection, after any still being opened has settled. */
  async close(): Promise<void> {
    this.closed = true;
    this.conn?.destroy();
    this.conn = null;
    await this.opening;
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
  /** The node the config names as the instance's primary (its `host`/`port`). */
  primary: { name: string; endpoint: InstanceEndpoint; breakerOpen: () => boolean };
  replicas: { name: string; weight: number; endpoint: InstanceEndpoint; breakerOpen: () => boolean }[];
}

interface NodeState {
  probe: Probe;
  weight: number;
  breakerOpen: () => boolean;
  healthy: boolean;
  lagMs: number;
  executed: AppliedState | null;
  readOnly: boolean | null;
}

interface Group {
  instance: string;
  flavour: 'mysql' | 'mariadb';
  /** The node that takes writes now. */
  primary: string;
  nodes: Map<string, NodeState>;
  history: LagHistory;
  busy: boolean;
}

/** Called when an instance's primary moved to another of its nodes (a failover). */
export type PrimaryChange = (instance: string, primary: string, previous: string) => void;

const SQL = {
  mysql: {
    primary: 'SELECT @@global.gtid_executed AS g, @@global.read_only AS ro',
    replica: 'SELECT @@global.gtid_executed AS g, @@global.read_only AS ro',
  },
  mariadb: {
    primary: 'SELECT @@global.gtid_binlog_pos AS g, @@global.read_only AS ro',
    replica: 'SELECT @@global.gtid_current_pos AS g, @@global.read_only AS ro',
  },
} as const;

/**
 * Watches every node of the instances that have replicas, every `intervalMs`: the primary's
 * executed GTIDs (MySQL `gtid_executed`, MariaDB `gtid_binlog_pos`), then each replica's (MySQL
 * `gtid_executed`, MariaDB `gtid_current_pos`), compared by {@link LagHistory}, and whether each
 * node refuses writes (`read_only`). A replica that does not answer is unhealthy until it answers
 * again; reads that fail on it mark it at once. **Topology:** when the primary refuses writes
 * (fenced) or does not answer, and exactly one other node of the instance takes writes, that
 * node is the primary now (`onPrimaryChange`): the servers themselves are the topology every
 * router watches — `shardline failover` fences the old primary (`super_read_only` /
 * `read_only`) before it lets the new one take writes, so at most one node takes writes.
 * Timers are unref'd.
 */
export class ReplicaMonitor {
  private readonly groups = new Map<string, Group>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    instances: readonly MonitoredInstance[],
    factory: ConnectionFactory,
    private readonly o: { intervalMs: number; maxLagMs: number; onPrimaryChange?: PrimaryChange },
  ) {
    const timeoutMs = Math.max(1000, 4 * o.intervalMs);
    for (const inst of instances) {
      if (inst.replicas.length === 0) continue;
      const nodes = new Map<string, NodeState>();
      const add = (name: string, endpoint: InstanceEndpoint, weight: number, breakerOpen: () => boolean) =>
        nodes.set(name, {
          probe: new Probe(endpoint, factory, timeoutMs),
          weight,
          breakerOpen,
          healthy: false,
          lagMs: Infinity,
          executed: null,
          readOnly: null,
        });
      add(inst.primary.name, inst.primary.endpoint, 0, inst.primary.breakerOpen);
      for (const r of inst.replicas) add(r.name, r.endpoint, r.weight, r.breakerOpen);
      this.groups.set(inst.name, {
        instance: inst.name,
        flavour: inst.flavour,
        primary: inst.primary.name,
        nodes,
        history: new LagHistory(Math.max(10_000, 2 * o.maxLagMs)),
        busy: false,
      });
    }
  }

  /** Whether `instance` has replicas at all. */
  has(instance: string): boolean {
    return this.groups.has(instance);
  }

  /** The node that takes `instance`'s writes now. */
  primaryOf(instance: string): string | undefined {
    return this.groups.get(instance)?.primary;
  }

  /** Starts watching (idempotent) and resolves once the first round is done (at most `maxWaitMs`). */
  async start(maxWaitMs = 2000): Promise<void> {
    if (this.timer || this.closed || this.groups.size === 0) return;
    this.timer = setInterval(() => void this.tick(), this.o.intervalMs);
    this.timer.unref();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.tick(), new Promise<void>((r) => (timer = setTimeout(r, maxWaitMs)))]);
    clearTimeout(timer);
  }

  get started(): boolean {
    return this.timer !== null;
  }

  /** What is known of `instance`'s replicas (every node but the primary) now. */
  view(instance: string): ReplicaView[] {
    const g = this.groups.get(instance);
    if (!g) return [];
    const out: ReplicaView[] = [];
    for (const [name, r] of g.nodes)
      if (name !== g.primary)
        out.push({ name, weight: r.weight, healthy: r.healthy, lagMs: r.lagMs, executed: r.executed, breakerOpen: r.breakerOpen() });
    return out;
  }

  /** A read failed on `replica` for want of the server: skip it until its next probe answers. */
  markDown(instance: string, replica: string): void {
    const r = this.groups.get(instance)?.nodes.get(replica);
    if (r) r.healthy = false;
  }

  /** Runs one round of every instance now (a round still running is not doubled); resolves when all are done. */
  async tick(): Promise<void> {
    await Promise.all(
      [...this.groups.values()].map(async (g) => {
        if (g.busy || this.closed) return;
        g.busy = true;
        try {
          await this.measure(g);
        } finally {
          g.busy = false;
        }
      }),
    );
  }

  private async measure(g: Group): Promise<void> {
    const sql = SQL[g.flavour];
    const primary = g.nodes.get(g.primary)!;
    try {
      const reading = await primary.probe.read(sql.primary);
      g.history.record(Date.now(), reading.state);
      Object.assign(primary, { healthy: true, readOnly: reading.readOnly, executed: reading.state, lagMs: 0 });
    } catch {
      Object.assign(primary, { healthy: false, readOnly: null });
    }
    const others = [...g.nodes.entries()].filter(([name]) => name !== g.primary);
    await Promise.all(
      others.map(async ([, r]) => {
        try {
          const reading = await r.probe.read(sql.replica);
          if (this.closed) return;
          r.executed = reading.state;
          r.readOnly = reading.readOnly;
          r.lagMs = g.history.lagOf(reading.state, Date.now());
          r.healthy = true;
        } catch {
          r.healthy = false;
          r.readOnly = null;
          r.lagMs = Infinity;
        }
      }),
    );
    if (this.closed || (primary.healthy && primary.readOnly === false)) return;
    const writable = others.filter(([, r]) => r.healthy && r.readOnly === false);
    if (writable.length !== 1) return;
    const [name, next] = writable[0]!;
    const previous = g.primary;
    g.primary = name;
    g.history = new LagHistory(g.history.keepMs);
    if (next.executed) g.history.record(Date.now(), next.executed);
    next.lagMs = 0;
    primary.lagMs = Infinity;
    primary.weight = next.weight;
    next.weight = 0;
    this.o.onPrimaryChange?.(g.instance, name, previous);
  }

  /** Stops watching; resolves once every probe connection is closed (none still being opened). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all([...this.groups.values()].flatMap((g) => [...g.nodes.values()].map((n) => n.probe.close())));
  }
}
