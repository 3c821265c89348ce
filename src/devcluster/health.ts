import { kafkajs } from '../cdc/kafka/kafkajs-loader.js';

const { Kafka, logLevel } = kafkajs;
import { openMysqlSession, type MysqlEndpoint } from '../net/index.js';
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
    const health = await fetch(`${spec.url}/_cluster/health`, { signal: AbortSignal.timeout(2000) });
    if (!health.ok) return { healthy: false, reason: `_cluster/health answered ${health.status}` };
    const body = (await health.json()) as { status?: string };
    if (body.status !== 'green' && body.status !== 'yellow') return { healthy: false, reason: `cluster status ${body.status}` };
    const nodes = await fetch(`${spec.url}/_nodes/_local`, { signal: AbortSignal.timeout(2000) });
    const info = (await nodes.json()) as { nodes?: Record<string, { version?: string }> };
    const version = Object.values(info.nodes ?? {})[0]?.version;
    return version ? { healthy: true, version } : { healthy: true };
  } catch (err) {
    return { healthy: false, reason: (err as Error).message };
  }
}

/** Probes a service as its users see it: SQL services with the application account. */
export function probeService(spec: ServiceSpec): Promise<Health> {
  switch (spec.kind) {
    case 'mysql':
    case 'mariadb':
      return probeSql({ host: spec.host, port: spec.port, user: spec.sql!.user, password: spec.sql!.password });
    case 'kafka':
      return probeKafka(spec);
    case 'elasticsearch':
      return probeElasticsearch(spec);
  }
}
