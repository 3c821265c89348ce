export { analyze } from './analyze.js';
export type { Analysis, KeySource, Splice, InsertRows, Aggregate, SelectShape } from './analysis.js';
export { plan, render } from './plan.js';
export type { PlanOptions } from './plan.js';
export type { RoutePlan, RouteTarget, RouteKind, MergeSpec, SqlParam } from './route-plan.js';
export { PlanCache } from './plan-cache.js';
export type { PlanCacheStats } from './plan-cache.js';
export { lex } from './lexer.js';
export type { Token } from './lexer.js';
