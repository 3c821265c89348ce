export { MysqlGtidSet, MariadbGtidState } from './gtid-set.js';
export { WriteTokens, applied, parseApplied, type AppliedState } from './write-tokens.js';
