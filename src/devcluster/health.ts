import { readFileSync } from 'node:fs';
import https from 'node:https';
import { kafkajs } from '../cdc/kafka/kafkajs-loader.js';

const { Kafka, logLevel } = kafkajs;
import { openMysqlSession, type MysqlEndpoint } from '../net/index.js';
import { readReplicationState, replicationHealth } from './replica-setup.js';
import type { ServiceSpec } from './service-spec.js';

/** Result of one health probe. */
export interface Health {
  healthy: boolean;
  /** The version the live service reports, when it answered. */
  version?: string;
  reason?: string;
}

/** Probes a MySQL/MariaDB server with the given account: connect and `SELECT VERSION()`. */
export async function probeSql(endpoint: MysqlEndpoint): Promise<Health> {
  try {
    const session = await openMysqlSession({ connectTimeoutMs: 2000, ...endpoint });
    try {
      const [row] = await session.query<{ v: string }>('SELECT VERSION() AS v');
      return { healthy: true, version: row?.v ?? 'unknown' };
    } finally {
      await session.close();
    }
  } catch (err) {
    return { healthy: false, reason: (err as Error).message };
  }
}

/**
 * Probes a read replica as its users see it: the application account (which arrives by
 * replication) logs in, and both replication threads run (else the server's last errors).
 */
export async function probeReplica(endpoint: MysqlEndpoint): Promise<Health> {
  try {
    const session = await openMysqlSession({ connectTimeoutMs: 2000, ...endpoint });
    try {
      const [row] = await session.query<{ v: string }>('SELECT VERSION() AS v');
      const version = row?.v ?? 'unknown';
      const replication = replicationHealth(await readReplicationState(session));
      return replication.healthy ? { healthy: true, version } : { ...replication, version };
    } finally {
      await session.close();
    }
  } catch (err) {
    return { healthy: false, reason: (err as Error).message };
  }
}

/** Probes Kafka: the broker answers a metadata request. */
export async function probeKafka(spec: ServiceSpec): Promise<Health> {
  const kafka = new Kafka({
    clientId: 'shardline-health',
    brokers: [`${spec.host}:${spec.port}`],
    connectionTimeout: 1500,
    requestTimeout: 3000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 ? { healthy: true } : { healthy: false, reason: 'no broker in metadata' };
  } catch (err) {
    return { healthy: false, reason: (err as Error).message };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Probes Elasticsearch: `_cluster/health` is green or yellow; the version from `_nodes/_local`. */
export async function probeElasticsearch(spec: ServiceSpec): Promise<Health> {
  try {
    const health = await getJson(spec, '/_cluster/health');
    if (health.status !== 200) return { healthy: false, reason: `_cluster/health answered ${health.status}` };
    const body = health.body as { status?: string };
    if (body.status !== 'green' && body.status !== 'yellow') return { healthy: false, reason: `cluster status ${body.status}` };
    const info = (await getJson(spec, '/_nodes/_local')).body as { nodes?: Record<string, { version?: string }> };
    const version = Object.values(info.nodes ?? {})[0]?.version;
    return version ? { healthy: true, version } : { healthy: true };
  } catch (err) {
    return { healthy: false, reason: (err as Error).message };
  }
}

/** Probes Prometheus: `/-/ready` answers 200; the version from `/api/v1/status/buildinfo`. */
export async function probePrometheus(spec: ServiceSpec): Promise<Health> {
  try {
    const ready = await fetch(`${spec.url}/-/ready`, { signal: AbortSignal.timeout(2000) });
    if (ready.status !== 200) return { healthy: false, reason: `/-/ready answered ${ready.status}` };
    const info = await fetch(`${spec.url}/api/v1/status/buildinfo`, { signal: AbortSignal.timeout(2000) });
    const version = info.ok ? ((await info.json()) as { data?: { version?: string } }).data?.version : undefined;
    return version ? { healthy: true, version } : { healthy: true };
  } catch (err) {
    return { healthy: false, reason: (err as Error).message };
  }
}

/** GET a JSON document from Elasticsearch: plain fetch, or HTTPS with the dev CA and the file-realm login. */
async function getJson(spec: ServiceSpec, route: string): Promise<{ status: number; body: unknown }> {
  const login = spec.tls?.elasticsearch;
  if (!login || !spec.tls) {
    const r = await fetch(`${spec.url}${route}`, { signal: AbortSignal.timeout(2000) });
    return { status: r.status, body: r.ok ? await r.json() : null };
  }
  const ca = readFileSync(spec.tls.ca);
  return new Promise((resolve, reject) => {
    const req = https.get(`${spec.url}${route}`, { ca, auth: `${login.username}:${login.password}`, timeout: 2000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: res.statusCode === 200 ? JSON.parse(text) : null });
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${spec.url} within 2 s`)));
    req.on('error', reject);
  });
}

/** Probes a service as its users see it: SQL services with the application account. */
export function probeService(spec: ServiceSpec): Promise<Health> {
  switch (spec.kind) {
    case 'mysql':
    case 'mariadb': {
      const endpoint = { ...spec.sql!.security, host: spec.host, port: spec.port, user: spec.sql!.user, password: spec.sql!.password };
      return spec.replicaOf ? probeReplica(endpoint) : probeSql(endpoint);
    }
    case 'kafka':
      return probeKafka(spec);
    case 'elasticsearch':
      return probeElasticsearch(spec);
    case 'prometheus':
      return probePrometheus(spec);
  }
}
