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
  columnsOfTablesSql,
  primaryKeysOfTablesSql,
  tableShapes,
} from './archival-plan.js';
export type { ArchivalTable, PhysicalTable, TableShape } from './archival-plan.js';
