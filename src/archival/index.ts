export { runArchival, verifyArchival } from './archival-runner.js';
export type {
  ArchivalRunOptions,
  ArchivalRunReport,
  ArchivalTableReport,
  ArchivalProgressEvent,
  ArchivalVerifyReport,
  ArchivalVerifyRow,
} from './archival-runner.js';
export {
  archivalTables,
  physicalTables,
  tableShape,
  selectBatchSql,
  deleteBatchSql,
  countOlderSql,
  boundKey,
  cutOf,
  isShardMoveError,
  RatePacer,
  runIdOf,
  rowsPerSecond,
  NOW_SQL,
  COLUMNS_SQL,
  PRIMARY_KEY_SQL,
} from './archival-plan.js';
export type { ArchivalTable, PhysicalTable, TableShape } from './archival-plan.js';
