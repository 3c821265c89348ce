import { openMysqlSession } from '../net/index.js';
import type { NodeRole } from './live-roles.js';
import type { ServiceSpec } from './service-spec.js';

const SILENT: NodeRole = { answers: false, readOnly: null, source: null };

/** One node's `read_only` and configured replication source, with the application account (silent when it does not answer). */
async function probeRole(spec: ServiceSpec): Promise<NodeRole> {
  try {
    const session = await openMysqlSession({
      ...spec.sql!.security,
      host: spec.host,
      port: spec.port,
      user: spec.sql!.user,
      password: spec.sql!.password,
      connectTimeoutMs: 2000,
    });
    try {
      const [ro] = await session.query<{ ro: number | string }>('SELECT @@global.read_only AS ro');
      const [status] = await session.query('SHOW REPLICA STATUS');
      const host = String(status?.['Source_Host'] ?? status?.['Master_Host'] ?? '');
      const port = Number(status?.['Source_Port'] ?? status?.['Master_Port'] ?? 0);
      return { answers: true, readOnly: Number(ro?.ro) !== 0, source: host ? { host, port } : null };
    } finally {
      await session.close();
    }
  } catch {
    return SILENT;
  }
}

/**
 * What the SQL nodes of every instance with replicas say about their roles (in parallel), for
 * {@link withLiveRoles}. Nodes `running` says are down are not asked.
 */
export async function probeRoles(
  specs: readonly ServiceSpec[],
  options: { running?: (name: string) => boolean } = {},
): Promise<Map<string, NodeRole>> {
  const withReplicas = new Set(specs.flatMap((s) => (s.replicaOf ? [s.replicaOf.name] : [])));
  const nodes = specs.filter((s) => s.sql && (s.replicaOf || withReplicas.has(s.name)));
  const roles = await Promise.all(nodes.map((s) => (options.running && !options.running(s.name) ? SILENT : probeRole(s))));
  return new Map(nodes.map((s, i) => [s.name, roles[i]!]));
}
