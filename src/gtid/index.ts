export { MysqlGtidSet, MariadbGtidState } from './gtid-set.js';
export { WriteTokens, applied, parseApplied, type AppliedState } from './write-tokens.js';
export { mariadbResumePosition } from './mariadb-resume.js';
