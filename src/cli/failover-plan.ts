import type { InstanceConfig } from '../config/index.js';
import { FailoverError, UsageError } from '../errors/index.js';
import { MariadbGtidState, MysqlGtidSet } from '../gtid/index.js';
import { changeSourceSql, type BoundStatement } from '../net/index.js';

// The pure parts of `shardline failover`: statements, the --timeout flag, which node died and
// which replica takes over. The I/O is in failover.ts (planned) and failover-unplanned.ts.

/** One node of an instance: its primary's or a replica's address (the instance's accounts log in). */
export interface FailoverNode {
  name: string;
  host: string;
  port: number;
  serverPublicKey?: string | undefined;
}

/** The statements of a failover step on one flavour (pure; values bound by the session). */
export function failoverSql(flavour: 'mysql' | 'mariadb') {
  const mysql = flavour === 'mysql';
  return {
    fence: mysql ? ['SET GLOBAL super_read_only = ON'] : ['SET GLOBAL read_only = ON'],
    unfence: mysql ? ['SET GLOBAL super_read_only = OFF', 'SET GLOBAL read_only = OFF'] : ['SET GLOBAL read_only = OFF'],
    executed: mysql ? 'SELECT @@global.gtid_executed AS g' : 'SELECT @@global.gtid_binlog_pos AS g',
    /** Waits until the node has applied `?` for at most `?` seconds: 0 when it has. */
    waitFor: mysql ? 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS w' : 'SELECT MASTER_GTID_WAIT(?, ?) AS w',
    promote: mysql
      ? ['STOP REPLICA', 'RESET REPLICA ALL', 'SET GLOBAL super_read_only = OFF', 'SET GLOBAL read_only = OFF']
      : ['STOP SLAVE', 'RESET SLAVE ALL', 'SET GLOBAL read_only = OFF'],
    stopReplication: mysql ? 'STOP REPLICA' : 'STOP SLAVE',
    startReplication: mysql ? 'START REPLICA' : 'START SLAVE',
  };
}

/** The statement that makes a node replicate from `source` by GTID (pure; a demoted MariaDB primary starts from its own binlog). */
export function repointStatement(
  flavour: 'mysql' | 'mariadb',
  source: FailoverNode,
  account: { user: string; password: string },
  tls: InstanceConfig['tls'],
  demotedPrimary: boolean,
): BoundStatement {
  const secure = tls && tls.mode !== 'disabled';
  return changeSourceSql(
    flavour,
    source,
    account,
    { tls: secure ? { ca: tls.ca } : undefined, publicKeyPath: source.serverPublicKey },
    demotedPrimary ? 'current_pos' : 'slave_pos',
  );
}

/**
 * `--timeout <seconds>`: a positive number (decimals allowed), else a usage error — never a
 * silent default.
 * @throws {UsageError} USAGE
 */
export function parseTimeoutSeconds(value: string): number {
  const n = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n <= 0) {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    throw new UsageError(`--timeout expects seconds > 0, got "${shown}"`, { details: { flag: '--timeout' } });
  }
  return n;
}

/** What one node of the instance said when probed (unplanned failover). */
export interface NodeProbe {
  name: string;
  /** It accepted a connection (or refused the login: a server that answers is alive). */
  answers: boolean;
  /** `@@read_only` (null when it did not answer). */
  readOnly: boolean | null;
  /** The replication source it is configured with (`SHOW REPLICA STATUS`), if any. */
  source: { host: string; port: number } | null;
}

/** The node of `nodes` at `host:port` (exact address, else the only node on that port). */
export function nodeAt<N extends { name: string; host: string; port: number }>(
  nodes: readonly N[],
  host: string,
  port: number,
): N | undefined {
  const exact = nodes.find((n) => n.host === host && n.port === port);
  if (exact) return exact;
  const onPort = nodes.filter((n) => n.port === port);
  return onPort.length === 1 ? onPort[0] : undefined;
}

/**
 * The dead primary of an unplanned failover: the silent node the answering replicas replicate
 * from (else the only node that does not answer). Refuses while any node takes writes or the
 * primary answers: promoting a replica then would make a second writer.
 * @throws {UsageError} a node takes writes, or the primary answers: use --planned
 * @throws {FailoverError} FAILOVER_FAILED when the dead primary cannot be told
 */
export function deadPrimary(instance: string, nodes: readonly FailoverNode[], probes: readonly NodeProbe[]): FailoverNode {
  const writer = probes.find((p) => p.answers && p.readOnly === false);
  if (writer) throw new UsageError(`the primary ${writer.name} answers (it takes ${instance}'s writes): use --planned`);
  const answering = new Set(probes.filter((p) => p.answers).map((p) => p.name));
  const followed = new Set<string>();
  for (const p of probes) {
    if (!p.answers || !p.source) continue;
    const n = nodeAt(nodes, p.source.host, p.source.port);
    followed.add(n ? n.name : `${p.source.host}:${p.source.port}`);
  }
  // a followed node that answers is an intermediate replica, or a primary that is alive
  const followedSilent = [...followed].filter((name) => !answering.has(name));
  if (followedSilent.length > 1)
    throw new FailoverError(
      `instance ${instance}: its replicas follow different sources (${followedSilent.join(', ')}); fix the roles by hand`,
    );
  if (followedSilent.length === 0 && followed.size > 0)
    throw new UsageError(`the primary ${[...followed].join(' or ')} answers: use --planned`);
  const silent = probes.filter((p) => !p.answers).map((p) => p.name);
  const name = followedSilent[0] ?? (silent.length === 1 ? silent[0] : undefined);
  const dead = nodes.find((n) => n.name === name);
  if (!dead)
    throw new FailoverError(
      `instance ${instance}: cannot tell which node was the primary (${name ? `the replicas follow ${name}, not a node of the instance` : `not answering: ${silent.join(', ') || 'none'}`})`,
    );
  return dead;
}

/** What one reachable replica holds (MySQL GTID sets / MariaDB positions, the server's text). */
export interface ReplicaProgress {
  name: string;
  /** What it applied: MySQL `gtid_executed`; MariaDB `gtid_binlog_pos` and `gtid_slave_pos` (merged). */
  applied: string;
  /** What it received, applied or not: MySQL `Retrieved_Gtid_Set`; MariaDB `Gtid_IO_Pos`. */
  received: string;
}

/** The replica to promote, everything it holds (applied ∪ received) and what it must apply first. */
export interface FailoverTarget {
  name: string;
  /** applied ∪ received: what the new primary will have once it applied its relay log. */
  holds: string;
  /** What to wait for (`WAIT_FOR_EXECUTED_GTID_SET` / `MASTER_GTID_WAIT`); empty when it received nothing. */
  waitFor: string;
}

/** What a replica holds, as text, and whether it holds everything another holds. */
interface Holdings {
  name: string;
  text: string;
  received: string;
  covers(other: Holdings): boolean;
}

function holdings(flavour: 'mysql' | 'mariadb', r: ReplicaProgress): Holdings {
  const base = { name: r.name, received: r.received.replace(/\s+/g, '') };
  if (flavour === 'mysql') {
    const set = MysqlGtidSet.parse(r.applied);
    set.union(MysqlGtidSet.parse(r.received));
    return { ...base, text: set.toString(), covers: (o) => set.contains(MysqlGtidSet.parse(o.text)) };
  }
  // the latest position of each domain over everything it applied and received
  const state = new MariadbGtidState();
  for (const g of `${r.applied},${r.received}`.split(',').map((x) => x.trim())) if (g) state.merge(MariadbGtidState.parse(g));
  return { ...base, text: state.toString(), covers: (o) => state.covers(MariadbGtidState.parse(o.text)) };
}

/**
 * Picks the replica to promote in an unplanned failover (pure): the one whose received ∪ applied
 * transactions contain every other reachable replica's (MySQL: GTID set containment; MariaDB:
 * per-domain positions), the first such in config order; or `to` when it is that advanced.
 * @throws {UsageError} `to` is not a reachable replica, or another replica holds transactions it lacks
 * @throws {FailoverError} FAILOVER_FAILED when no replica answers or none holds every other's transactions
 */
export function chooseFailoverTarget(
  instance: string,
  flavour: 'mysql' | 'mariadb',
  replicas: readonly ReplicaProgress[],
  to?: string,
): FailoverTarget {
  if (replicas.length === 0) throw new FailoverError(`instance ${instance}: no replica answers, nothing to promote`);
  const all = replicas.map((r) => holdings(flavour, r));
  const target = (h: Holdings): FailoverTarget => ({ name: h.name, holds: h.text, waitFor: h.received });
  if (to !== undefined) {
    const chosen = all.find((h) => h.name === to);
    if (!chosen)
      throw new UsageError(`--to ${to}: not a replica of ${instance} that answers (answering: ${replicas.map((r) => r.name).join(', ')})`);
    const ahead = all.find((h) => h !== chosen && !chosen.covers(h));
    if (ahead)
      throw new UsageError(
        `--to ${to}: ${ahead.name} holds transactions ${to} lacks (${ahead.name}: ${ahead.text || 'none'}; ${to}: ${chosen.text || 'none'}); promote ${ahead.name} instead`,
      );
    return target(chosen);
  }
  const best = all.find((h) => all.every((o) => o === h || h.covers(o)));
  if (!best)
    throw new FailoverError(
      `instance ${instance}: no replica holds every other's transactions (${all.map((h) => `${h.name}: ${h.text || 'none'}`).join('; ')}); choose one with --to`,
    );
  return target(best);
}
