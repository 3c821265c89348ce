export { InstancePool } from './instance-pool.js';
export type { ConnectionFactory, PoolStats } from './instance-pool.js';
