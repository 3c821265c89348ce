export { InstancePool } from './instance-pool.js';
export type { ConnectionFactory, PoolStats, TcpHealth, PoolEvents } from './instance-pool.js';
export { CircuitBreaker, DEFAULT_BREAKER } from './circuit-breaker.js';
export type { BreakerState, BreakerSettings } from './circuit-breaker.js';
