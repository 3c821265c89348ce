import type { ClusterConfigInput } from './cluster-schema.js';

/**
 * Types a cluster config written in code: fields with defaults (`sharding`, `pool`, `router`,
 * `cdc`, …) may be left out, unknown keys are type errors. Returns its argument; `createRouter`
 * validates it at run time.
 *
 * @example
 * import { createRouter, defineConfig } from 'shardline';
 * const config = defineConfig({
 *   instances: [{ name: 'shard-0', flavour: 'mysql', host: 'db0', port: 3306, user: 'app', password: process.env.DB_PASSWORD ?? '' }],
 * });
 * const router = await createRouter(config);
 */
export function defineConfig(config: ClusterConfigInput): ClusterConfigInput {
  return config;
}
