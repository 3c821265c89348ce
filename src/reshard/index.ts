export { ShardMove, currentMap, DEFAULT_MOVE_OPTIONS } from './move-runner.js';
export type { MoveMetrics, MoveOptions, MoveReport, MoveProgressEvent } from './move-runner.js';
export { isUnfinished, parseShardList, shardListText, MOVE_PHASES } from './move-state.js';
export type { AbortReport } from './move-abort.js';
export type { MoveState, MovePhase, MoveDifference } from './move-state.js';
export { checksumSql } from './verify-tables.js';
export { statements as catchUpStatements } from './catch-up.js';
