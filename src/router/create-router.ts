import type { Registry } from 'prom-client';
import { loadClusterConfig, parseClusterConfig, type ClusterConfig } from '../config/index.js';
import { createRouterMetrics } from '../metrics/index.js';
import { openDbConnection } from '../net/index.js';
import type { ConnectionFactory } from '../pool/index.js';
import { Topology, type UidHasher } from '../shard/index.js';
import type { Router } from './router-types.js';
import { ShardedRouter } from './sharded-router.js';

/** Everything `createRouter` accepts besides a bare config or path. */
export interface CreateRouterOptions {
  /** A cluster file path, a validated config, or a plain object to validate. */
  config: string | ClusterConfig | Record<string, unknown>;
  /** prom-client registry to register the router's metrics on (none: no metrics). */
  registry?: Registry;
  /** A custom UID hash (default: CRC-32 of the UID's decimal text). */
  hasher?: UidHasher;
  /** Analyses kept in the plan cache (default 2000). */
  planCacheSize?: number;
  /** How connections are opened (default: mysql2 over TCP). */
  connectionFactory?: ConnectionFactory;
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
export async function createRouter(configOrOptions: string | ClusterConfig | CreateRouterOptions): Promise<Router> {
  const options: CreateRouterOptions = isOptions(configOrOptions) ? configOrOptions : { config: configOrOptions };
  const config =
    typeof options.config === 'string'
      ? loadClusterConfig(options.config)
      : Object.isFrozen(options.config)
        ? (options.config as ClusterConfig)
        : parseClusterConfig(options.config);
  const topology = new Topology(config.sharding, config.instances.map((i) => i.name), options.hasher);
  return new ShardedRouter(config, topology, options.connectionFactory ?? openDbConnection, createRouterMetrics(options.registry), options.planCacheSize);
}
