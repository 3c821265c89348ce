export type { Checkpoint } from './checkpoint.js';
export { positionAtOrAfter } from './checkpoint.js';
export { MysqlGtidSet, MariadbGtidState } from './gtid-set.js';
export { CheckpointStore } from './checkpoint-store.js';
