import { ALL_SECTIONS, requireSections, type ClusterConfig } from '../config/index.js';
import { DevClusterError } from '../errors/index.js';
import type { MysqlSecurity } from '../net/index.js';

/** What a dev-cluster service is. */
export type ServiceKind = 'mysql' | 'mariadb' | 'kafka' | 'elasticsearch' | 'prometheus';
/** What a dev-cluster service is for. */
export type ServiceRole = 'shard' | 'replica' | 'archive' | 'kafka' | 'search' | 'monitoring';

/** TLS a dev service serves, with the dev cluster's own CA (see tls-certs.ts). */
export interface DevServiceTls {
  ca: string;
  cert: string;
  key: string;
  /** The server key followed by its certificate (Kafka's PEM keystore). */
  keystore: string;
  /** Kafka: ports of the extra SSL and SASL_SSL listeners and the SASL accounts (PLAIN and SCRAM). */
  kafka?: { sslPort: number; saslSslPort: number; users: { username: string; password: string }[] };
  /** Elasticsearch: HTTPS with security on, and this superuser in the file realm. */
  elasticsearch?: { username: string; password: string };
}

/** One service of the local cluster, derived from the cluster config. */
export interface ServiceSpec {
  name: string;
  kind: ServiceKind;
  role: ServiceRole;
  /** The version the native path installs (`8.0`, `9.7`, `10.11`, `4.1.2`, `8.19.21`; Prometheus: Debian's package). */
  plannedVersion: string;
  host: string;
  port: number;
  /** Other ports the service binds (Kafka's controller, ES transport). */
  extraPorts: number[];
  /** MySQL-protocol only. */
  sql?: {
    user: string;
    password: string;
    serverId: number;
    replication?: { user: string; password: string };
    database?: string;
    /** How clients reach it securely (the config's `tls` / `serverPublicKey`). */
    security?: MysqlSecurity;
  };
  /**
   * Replicas only: the shard instance it replicates from (GTID auto-positioning, with the
   * instance's replication account in `sql.replication`). It runs the primary's flavour.
   */
  replicaOf?: { name: string; host: string; port: number };
  /**
   * A configured primary that another node of its instance replaced as the writer (a failover):
   * `dev up` starts it fenced with a replica's options and rejoins it as a replica of `replicaOf`
   * (see live-roles.ts and rejoin.ts). Never set by describeServices.
   */
  rejoin?: boolean;
  /** Elasticsearch only. */
  url?: string;
  /** Serve TLS (and, for Kafka and Elasticsearch, authentication) besides the plain listener. */
  tls?: DevServiceTls;
  /** Prometheus only: what it scrapes and which rule files it loads (see prometheus-spec.ts). */
  prometheus?: PrometheusSettings;
}

/** A Prometheus of the dev cluster: scrape jobs, rule files and the scrape interval. */
export interface PrometheusSettings {
  scrapeIntervalSeconds: number;
  jobs: { name: string; targets: string[] }[];
  /** Absolute paths of alerting/recording rule files. */
  ruleFiles: string[];
}

const DEFAULT_VERSION = { mysql: '8.0', mariadb: '10.11' } as const;

/**
 * The `server_id` of a replica the config gives none: out of the range the config's small ids
 * use, one block of 32 (the schema's replica limit) per instance.
 */
export function defaultReplicaServerId(instanceIndex: number, replicaIndex: number): number {
  return 10_000 + instanceIndex * 32 + replicaIndex;
}

/**
 * The cluster's services in start order: shards, their read replicas, archive, Kafka,
 * Elasticsearch. (`dev up` starts a replica once its primary is healthy and bootstrapped.)
 */
export function describeServices(loaded: ClusterConfig): ServiceSpec[] {
  const config = requireSections(
    loaded,
    ALL_SECTIONS,
    'the local cluster (shardline dev), which runs shards, archive, Kafka and Elasticsearch,',
  );
  const shards: ServiceSpec[] = config.instances.map((inst) => ({
    name: inst.name,
    kind: inst.flavour,
    role: 'shard',
    plannedVersion: inst.dev?.version ?? DEFAULT_VERSION[inst.flavour],
    host: inst.host,
    port: inst.port,
    extraPorts: [],
    sql: {
      user: inst.user,
      password: inst.password,
      serverId: inst.serverId,
      replication: inst.replication,
      security: { name: inst.name, tls: inst.tls, serverPublicKey: inst.serverPublicKey },
    },
  }));
  const replicas: ServiceSpec[] = config.instances.flatMap((inst, i) =>
    (inst.replicas ?? []).map((r, j): ServiceSpec => {
      if (!inst.replication) {
        throw new DevClusterError(
          'DEV_START_FAILED',
          `${inst.name} lists the replica ${r.name}, but has no \`replication\` account for it to replicate with: add instances[${i}].replication`,
        );
      }
      return {
        name: r.name,
        kind: inst.flavour,
        role: 'replica',
        plannedVersion: r.dev?.version ?? inst.dev?.version ?? DEFAULT_VERSION[inst.flavour],
        host: r.host,
        port: r.port,
        extraPorts: [],
        sql: {
          user: inst.user,
          password: inst.password,
          serverId: r.serverId ?? defaultReplicaServerId(i, j),
          replication: inst.replication,
          security: { name: r.name, tls: inst.tls, serverPublicKey: r.serverPublicKey },
        },
        replicaOf: { name: inst.name, host: inst.host, port: inst.port },
      };
    }),
  );
  const a = config.archive;
  const archive: ServiceSpec = {
    name: a.name,
    kind: 'mysql',
    role: 'archive',
    plannedVersion: a.dev?.version ?? '8.0',
    host: a.host,
    port: a.port,
    extraPorts: [],
    sql: {
      user: a.user,
      password: a.password,
      serverId: a.serverId ?? 100,
      database: a.database,
      security: { name: a.name, tls: a.tls, serverPublicKey: a.serverPublicKey },
    },
  };
  const [firstBroker] = config.kafka.brokers;
  const [kHost, kPort] = splitHostPort(firstBroker ?? '127.0.0.1:9092');
  const kafka: ServiceSpec = {
    name: 'kafka',
    kind: 'kafka',
    role: 'kafka',
    plannedVersion: config.kafka.dev?.version ?? '4.1.2',
    host: kHost,
    port: kPort,
    extraPorts: [config.kafka.dev?.controllerPort ?? 9093],
  };
  const esUrl = new URL(config.elasticsearch.node);
  const search: ServiceSpec = {
    name: 'elasticsearch',
    kind: 'elasticsearch',
    role: 'search',
    plannedVersion: config.elasticsearch.dev?.version ?? '8.19.21',
    host: esUrl.hostname,
    port: Number(esUrl.port || 9200),
    extraPorts: [config.elasticsearch.dev?.transportPort ?? 9300],
    url: config.elasticsearch.node.replace(/\/+$/, ''),
  };
  return [...shards, ...replicas, archive, kafka, search];
}

function splitHostPort(value: string): [string, number] {
  const i = value.lastIndexOf(':');
  return [value.slice(0, i), Number(value.slice(i + 1))];
}
