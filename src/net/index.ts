export { openMysqlSession } from './mysql-session.js';
export type { MysqlEndpoint, MysqlSession } from './mysql-session.js';
export { openDbConnection } from './db-connection.js';
export type { DbConnection, QueryOutcome, Row, FieldInfo, InstanceEndpoint, ServerErrorInfo } from './db-connection.js';
