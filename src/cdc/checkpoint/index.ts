export type { Checkpoint } from './checkpoint.js';
export { positionAtOrAfter, readFrom } from './checkpoint.js';
export { MysqlGtidSet, MariadbGtidState } from '../../gtid/index.js';
export { CheckpointStore } from './checkpoint-store.js';
