export { clusterConfigSchema, instanceSchema, archiveSchema, kafkaSchema, elasticsearchSchema } from './cluster-schema.js';
export type { ClusterConfig, InstanceConfig, ArchiveConfig } from './cluster-schema.js';
export { loadClusterConfig, parseClusterConfig, resolveConfigPath } from './load-cluster-config.js';
export { interpolateEnv } from './env-interpolate.js';
export { bundledClusterConfig, packageRoot } from './package-root.js';
export { shardingSchema, shardMapSchema, poolSchema, routerSchema } from './sharding-schema.js';
export type { ShardingConfig, PoolConfig, RouterConfig } from './sharding-schema.js';
export { cdcSchema } from './cdc-schema.js';
export type { CdcConfig } from './cdc-schema.js';
