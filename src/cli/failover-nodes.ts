import type { ClusterConfig, InstanceConfig } from '../config/index.js';
import { UsageError } from '../errors/index.js';
import { openMysqlSession, type MysqlSession } from '../net/index.js';
import type { FailoverNode, NodeProbe } from './failover-plan.js';

/** One instance as `shardline failover` sees it: its nodes (primary first) and how to log in to them. */
export interface FailoverInstance {
  inst: InstanceConfig;
  nodes: FailoverNode[];
  /** The account that points replicas at a source. */
  replication: { user: string; password: string };
  /** An admin session on a node (the instance's `admin` account, else its application account). */
  open(node: FailoverNode): Promise<MysqlSession>;
  /** `sharding.naming.metaDatabase`: where `id_segments` lives on the instance that leases global IDs. */
  metaDatabase: string;
}

/**
 * The instance named `name` with its nodes (the configured primary, then `replicas`).
 * @throws {UsageError} unknown instance, an instance without replicas
 */
export function failoverInstance(config: ClusterConfig, name: string): FailoverInstance {
  const inst = config.instances.find((i) => i.name === name);
  if (!inst) throw new UsageError(`no instance ${name} (instances: ${config.instances.map((i) => i.name).join(', ')})`);
  const replicas = inst.replicas ?? [];
  if (replicas.length === 0) throw new UsageError(`instance ${inst.name} has no replicas (instances[].replicas) to fail over to`);
  const account = inst.admin ?? { user: inst.user, password: inst.password };
  return {
    inst,
    nodes: [{ name: inst.name, host: inst.host, port: inst.port, serverPublicKey: inst.serverPublicKey }, ...replicas],
    replication: inst.replication ?? { user: inst.user, password: inst.password },
    metaDatabase: config.sharding.naming.metaDatabase,
    open: (n) =>
      openMysqlSession({
        host: n.host,
        port: n.port,
        user: account.user,
        password: account.password,
        tls: inst.tls,
        serverPublicKey: n.serverPublicKey,
      }),
  };
}

/**
 * Whether a failed connection attempt means the server is gone: refused, reset, timed out,
 * unreachable. A server that refuses the login, is shutting down or has too many connections
 * answers — it is alive.
 */
export function silentFailure(err: unknown): boolean {
  const e = err as { kind?: unknown; errno?: unknown };
  if (e?.kind !== 'connection' && e?.kind !== 'unknown-host') return false;
  return e.errno !== 1040 && e.errno !== 1053;
}

/** Probes one node: whether it answers, its `read_only` and the replication source it is configured with. */
export async function probeNode(node: FailoverNode, open: (n: FailoverNode) => Promise<MysqlSession>): Promise<NodeProbe> {
  let session: MysqlSession;
  try {
    session = await open(node);
  } catch (err) {
    return { name: node.name, answers: !silentFailure(err), readOnly: null, source: null };
  }
  try {
    const [ro] = await session.query<{ ro: number | string }>('SELECT @@global.read_only AS ro');
    const [status] = await session.query('SHOW REPLICA STATUS');
    const host = String(status?.['Source_Host'] ?? status?.['Master_Host'] ?? '');
    const port = Number(status?.['Source_Port'] ?? status?.['Master_Port'] ?? 0);
    return { name: node.name, answers: true, readOnly: Number(ro?.ro) !== 0, source: host ? { host, port } : null };
  } finally {
    await session.close();
  }
}
