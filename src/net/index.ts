export { openMysqlSession } from './mysql-session.js';
export type { MysqlEndpoint, MysqlSession } from './mysql-session.js';
