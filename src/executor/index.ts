export { executePlan, wrapQueryError } from './execute-plan.js';
export type { RunOnInstance } from './execute-plan.js';
export { mergeResults, kWayMerge, mergeAggregates } from './merge-results.js';
export type { RouterResult, WriteResult } from './merge-results.js';
export { addDecimal, compareDecimal } from './decimal.js';
export { compareValues } from './compare-values.js';
