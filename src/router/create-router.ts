import type { Registry } from 'prom-client';
import { loadClusterConfig, parseClusterConfig, type ClusterConfig, type ClusterConfigInput } from '../config/index.js';
import { createRouterMetrics } from '../metrics/index.js';
import { ConfigError } from '../errors/index.js';
import { loadSocketLayer, openDbConnection, type NoFileLimit, type SocketLayer } from '../net/index.js';
import type { ConnectionFactory } from '../pool/index.js';
import { Topology, type UidHasher } from '../shard/index.js';
import type { Router, RouterLogger } from './router-types.js';
import { ShardedRouter } from './sharded-router.js';

/** Everything `createRouter` accepts besides a bare config or path. */
export interface CreateRouterOptions {
  /** A cluster file path, a validated config, or a plain object to validate. */
  config: string | ClusterConfig | ClusterConfigInput | Record<string, unknown>;
  /** prom-client registry to register the router's metrics on (none: no metrics). */
  registry?: Registry;
  /** A custom UID hash (default: CRC-32 of the UID's decimal text). */
  hasher?: UidHasher;
  /** Analyses kept in the plan cache (default: `router.planCache.maxEntries` of the config, 2000). */
  planCacheSize?: number;
  /**
   * How connections are opened (default: mysql2 over a tuned TCP socket). A custom factory opens
   * the multi-shard write connections too; when its connections have no `batch`, their
   * statements are sent one by one (same transactions, more round trips).
   */
  connectionFactory?: ConnectionFactory;
  /** The socket layer (default: the native addon, else the JS fallback). */
  socketLayer?: SocketLayer;
  /** Receives the router's warnings (default: `process.emitWarning`). */
  logger?: RouterLogger;
}

/** File descriptors kept free beyond the pools' connections (logs, Kafka, files, the event loop). */
export const FD_MARGIN = 64;

/**
 * Compares the pools' capacity plus a margin with RLIMIT_NOFILE after raising the soft limit
 * to the hard one where possible.
 * @throws {ConfigError} FD_BUDGET naming the limit, the need and the fix.
 */
export function checkFdBudget(config: ClusterConfig, limit: NoFileLimit): { need: number; limit: NoFileLimit } {
  const replicas = config.instances.reduce((n, i) => n + (i.replicas?.length ?? 0), 0);
  // each replica: its pool and the lag monitor's connection (plus one to each primary that has replicas)
  const connections = config.instances.length * (config.pool.max + config.pool.batchMax) + replicas * (config.pool.max + 2);
  const need = connections + FD_MARGIN;
  if (Number.isFinite(limit.soft) && limit.soft < need) {
    const suggestion = Math.max(4096, 2 ** Math.ceil(Math.log2(need)));
    throw new ConfigError(
      'FD_BUDGET',
      `the pools may open ${config.instances.length} × (${config.pool.max} + ${config.pool.batchMax} for multi-shard writes)${replicas ? ` + ${replicas} replicas × (${config.pool.max} + 2 for the lag monitor)` : ''} = ${connections} connections and the process needs ${FD_MARGIN} more file descriptors (${need} in all), but RLIMIT_NOFILE is ${limit.soft} (hard limit ${limit.hard}). Raise it: \`ulimit -n ${suggestion}\` before starting, or LimitNOFILE=${suggestion} in the systemd unit; or lower pool.max`,
      { details: { need, soft: limit.soft, hard: limit.hard } },
    );
  }
  return { need, limit };
}

function isOptions(value: unknown): value is CreateRouterOptions {
  return typeof value === 'object' && value !== null && 'config' in value;
}

/**
 * Creates a router from a cluster file path, a config object, or options.
 *
 * @example
 * import { createRouter } from 'shardline';
 * const router = await createRouter('examples/local-cluster.yaml');
 * await router.query('INSERT INTO users (uid, name) VALUES (?, ?)', [42n, 'Ada']);
 * const rows = await router.select('SELECT name FROM users WHERE uid = ?', [42n]);
 * await router.forUid(42n).transaction(async (tx) => {
 *   await tx.query('UPDATE users SET balance = balance - ? WHERE uid = ?', ['5.00', 42n]);
 *   await tx.query('INSERT INTO orders (uid, order_id, amount) VALUES (?, ?, ?)', [42n, 1n, '5.00']);
 * });
 * await router.close();
 * @throws {ConfigError} when the config does not validate.
 */
export async function createRouter(configOrOptions: string | ClusterConfig | ClusterConfigInput | CreateRouterOptions): Promise<Router> {
  const options: CreateRouterOptions = isOptions(configOrOptions) ? configOrOptions : { config: configOrOptions };
  const config =
    typeof options.config === 'string'
      ? loadClusterConfig(options.config)
      : Object.isFrozen(options.config)
        ? (options.config as ClusterConfig)
        : parseClusterConfig(options.config);
  const topology = new Topology(
    config.sharding,
    config.instances.map((i) => i.name),
    options.hasher,
  );
  const logger = options.logger;
  const layer =
    options.socketLayer ?? (logger ? loadSocketLayer((message) => logger.warn({ component: 'socket-layer' }, message)) : loadSocketLayer());
  checkFdBudget(config, layer.raiseNoFileLimit());
  const ka = config.pool.keepAlive;
  const keepAlive = {
    idleS: ka.idleS,
    intervalS: ka.intervalS,
    count: ka.count,
    userTimeoutMs: ka.userTimeoutMs ?? (ka.idleS + ka.intervalS * ka.count) * 1000,
  };
  const factory = options.connectionFactory ?? ((endpoint) => openDbConnection(endpoint, { layer, keepAlive }));
  const batchFactory: ConnectionFactory =
    options.connectionFactory ?? ((endpoint) => openDbConnection(endpoint, { layer, keepAlive }, { multipleStatements: true }));
  const router = new ShardedRouter(
    config,
    topology,
    { factory, batchFactory },
    createRouterMetrics(options.registry),
    layer,
    options.planCacheSize,
  );
  // with replicas: which node of each instance takes writes now (a failover may have moved it)
  await router.ready();
  return router;
}
