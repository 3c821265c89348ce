import type { ServiceSpec } from './service-spec.js';

/** What one SQL node of the dev cluster says about its role (see live-probe.ts). */
export interface NodeRole {
  /** It answered the probe. */
  answers: boolean;
  /** `@@read_only`; null when it did not answer. */
  readOnly: boolean | null;
  /** The replication source it is configured with (`SHOW REPLICA STATUS`), if any. */
  source: { host: string; port: number } | null;
}

/** The specs with the roles the servers have now, and the instances where more than one node takes writes. */
export interface LiveRoles {
  specs: ServiceSpec[];
  conflicts: string[];
}

type Address = { name: string; host: string; port: number };

/** The node of `nodes` at `host:port` (exact address, else the only node on that port). */
function nodeAt(nodes: readonly Address[], host: string, port: number): Address | undefined {
  const exact = nodes.find((n) => n.host === host && n.port === port);
  if (exact) return exact;
  const onPort = nodes.filter((n) => n.port === port);
  return onPort.length === 1 ? onPort[0] : undefined;
}

/**
 * The specs with the roles the servers have now (pure; configured order kept). For each instance
 * with replicas, the node that takes writes is the one that answers with `read_only` off. When
 * that is one of its replicas (a failover happened), that replica becomes the instance's primary
 * (role `shard`, no `replicaOf`), the configured primary becomes its replica with `rejoin` (it is
 * started fenced and rejoins: see rejoin.ts), and the other replicas replicate from the source
 * they report, else from the new primary. When no node or the configured primary takes writes,
 * the specs stay as configured; when several do, the instance is listed in `conflicts`.
 */
export function withLiveRoles(specs: readonly ServiceSpec[], roles: ReadonlyMap<string, NodeRole>): LiveRoles {
  const out = new Map(specs.map((s) => [s.name, s]));
  const conflicts: string[] = [];
  for (const primary of specs.filter((s) => s.role === 'shard')) {
    const replicas = specs.filter((s) => s.replicaOf?.name === primary.name);
    if (replicas.length === 0) continue;
    const group = [primary, ...replicas];
    const writers = group.filter((s) => roles.get(s.name)?.answers && roles.get(s.name)?.readOnly === false);
    if (writers.length > 1) {
      conflicts.push(`${primary.name}: ${writers.map((s) => s.name).join(' and ')} all take writes`);
      continue;
    }
    const writer = writers[0];
    if (!writer || writer === primary) continue;
    const at = (s: Address): Address => ({ name: s.name, host: s.host, port: s.port });
    const sourceOf = (s: ServiceSpec): Address => {
      const r = roles.get(s.name);
      const n = r?.answers && r.source ? nodeAt(group, r.source.host, r.source.port) : undefined;
      return n && n.name !== s.name ? at(n) : at(writer);
    };
    const promoted: ServiceSpec = { ...writer, role: 'shard' };
    delete promoted.replicaOf;
    out.set(writer.name, promoted);
    out.set(primary.name, { ...primary, role: 'replica', replicaOf: sourceOf(primary), rejoin: true });
    for (const r of replicas) if (r !== writer) out.set(r.name, { ...r, replicaOf: sourceOf(r) });
  }
  return { specs: specs.map((s) => out.get(s.name)!), conflicts };
}

/** The specs reordered so that each comes after the one it replicates from (otherwise in the given order). */
export function sourcesFirst(specs: readonly ServiceSpec[]): ServiceSpec[] {
  const placed = new Set<string>();
  const ordered: ServiceSpec[] = [];
  const visit = (s: ServiceSpec) => {
    if (placed.has(s.name)) return;
    placed.add(s.name);
    const source = s.replicaOf && specs.find((x) => x.name === s.replicaOf!.name);
    if (source) visit(source);
    ordered.push(s);
  };
  specs.forEach(visit);
  return ordered;
}
