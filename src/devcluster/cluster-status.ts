import { probeService } from './health.js';
import { liveServiceState } from './service-state.js';
import type { ServiceKind, ServiceRole, ServiceSpec } from './service-spec.js';
import type { StateDir } from './state-dir.js';

/** One row of `shardline dev status --json`. */
export interface ServiceStatus {
  name: string;
  kind: ServiceKind;
  role: ServiceRole;
  version: string;
  host: string;
  port: number;
  healthy: boolean;
  /** The pid `dev up` started (native path); null when not running or run by Docker. */
  pid: number | null;
  /** Read replicas (`role: "replica"`): the shard instance it replicates from; null for every other service. */
  replica_of: string | null;
}

/** `8.0.31`, `9.7.4`, `10.11.14` out of whatever the server says about itself. */
export function normaliseVersion(raw: string): string {
  return /^\d+\.\d+(\.\d+)?/.exec(raw)?.[0] ?? raw;
}

/** Probes every service (in parallel) and reports what is running. */
export async function clusterStatus(specs: readonly ServiceSpec[], dir: StateDir): Promise<ServiceStatus[]> {
  return Promise.all(
    specs.map(async (spec) => {
      const state = liveServiceState(dir, spec.name);
      const health = await probeService(spec);
      return {
        name: spec.name,
        kind: spec.kind,
        role: spec.role,
        version: normaliseVersion(health.version ?? state?.version ?? spec.plannedVersion),
        host: spec.host,
        port: spec.port,
        healthy: health.healthy,
        pid: state?.pid ?? null,
        replica_of: spec.replicaOf?.name ?? null,
      };
    }),
  );
}

/** A plain-text table of statuses for terminals and logs (a REPLICA_OF column when the cluster has replicas). */
export function formatStatusTable(rows: readonly (Omit<ServiceStatus, 'replica_of'> & { replica_of?: string | null })[]): string {
  const replicas = rows.some((r) => r.replica_of);
  const header = ['NAME', 'KIND', 'ROLE', 'VERSION', 'ADDRESS', 'HEALTHY', 'PID', ...(replicas ? ['REPLICA_OF'] : [])];
  const body = rows.map((r) => [
    r.name,
    r.kind,
    r.role,
    r.version,
    `${r.host}:${r.port}`,
    r.healthy ? 'yes' : 'NO',
    r.pid === null ? '-' : String(r.pid),
    ...(replicas ? [r.replica_of ?? '-'] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  return [header, ...body]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
