export { createRouterMetrics } from './router-metrics.js';
export type { RouterMetrics, PoolGaugeSource } from './router-metrics.js';
