import { isIP } from 'node:net';
import { DevClusterError } from '../errors/index.js';
import type { ServiceSpec } from './service-spec.js';

/** True for `localhost`, 127.0.0.0/8, `::1` and IPv4-mapped loopback; wildcards and names are not. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    if (h === '::1' || /^0{0,4}(:0{0,4}){6}:0{0,3}1$/.test(h)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && mapped[1]!.startsWith('127.');
  }
  return false;
}

/** What the bind policy reads of a service (with TLS, Elasticsearch runs with security on). */
export type BindSpec = Pick<ServiceSpec, 'name' | 'kind' | 'host' | 'sql'> & { tls?: { elasticsearch?: unknown } | undefined };

/** Why `spec` may not listen beyond loopback even when remote access is allowed, or null. */
function insecureRemotely(spec: BindSpec): string | null {
  switch (spec.kind) {
    case 'mysql':
    case 'mariadb': {
      const empty = [spec.sql?.password, ...(spec.sql?.replication ? [spec.sql.replication.password] : [])].some((p) => !p);
      return empty ? 'an account has an empty password' : null;
    }
    case 'kafka':
      return 'the dev broker always serves a PLAINTEXT listener without authentication';
    case 'elasticsearch':
      return spec.tls?.elasticsearch ? null : 'the dev node runs with security off (no TLS, no authentication)';
    case 'prometheus':
      return 'Prometheus serves its API without authentication';
  }
}

/**
 * What is wrong with the addresses the dev cluster would bind. Every service binds loopback
 * unless `allowRemote` is set; even then, a service that runs without authentication (Kafka's
 * PLAINTEXT listener, Elasticsearch without TLS and security) stays on loopback.
 */
export function bindHostProblems(specs: readonly BindSpec[], allowRemote: boolean): string[] {
  const problems: string[] = [];
  for (const spec of specs) {
    if (isLoopbackHost(spec.host)) continue;
    const why = insecureRemotely(spec);
    if (why) problems.push(`${spec.name} would listen on ${spec.host}, which is not loopback, and ${why}`);
    else if (!allowRemote)
      problems.push(
        `${spec.name} would listen on ${spec.host}, which is not loopback (pass --allow-remote or set SHARDLINE_DEV_ALLOW_REMOTE=1 to allow it)`,
      );
  }
  return problems;
}

/**
 * Refuses a dev cluster that would listen beyond loopback (see {@link bindHostProblems}).
 * @throws {DevClusterError} `DEV_INSECURE_BIND`.
 */
export function checkBindHosts(specs: readonly BindSpec[], allowRemote: boolean): void {
  const problems = bindHostProblems(specs, allowRemote);
  if (problems.length > 0) {
    throw new DevClusterError('DEV_INSECURE_BIND', `the dev cluster binds only to loopback: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
}
