export { openMysqlSession } from './mysql-session.js';
export type { MysqlEndpoint, MysqlSession } from './mysql-session.js';
export { openRawRowSession } from './raw-row-session.js';
export type { RawRowSession, RawRows, RawField } from './raw-row-session.js';
export { openDbConnection } from './db-connection.js';
export type { GtidTracking } from './gtid-tracking.js';
export type {
  DbConnection,
  DbConnectionOptions,
  QueryOutcome,
  Row,
  FieldInfo,
  InstanceEndpoint,
  ServerErrorInfo,
  SocketTuning,
} from './db-connection.js';
export type { BatchStatement, BatchReply } from './batch-query.js';
export type { RowStream } from './row-stream.js';
export { loadSocketLayer, loadSocketLayerFrom } from './load-socket-layer.js';
export { createJsSocketLayer, readNoFileLimit } from './js-socket-layer.js';
export type { SocketLayer, KeepAliveSettings, TcpInfoSnapshot, ProbeResult, IdleWatcher, NoFileLimit } from './socket-layer.js';
export { collationEncoding } from './charsets.js';
export { openReplicationConnection } from './replication-connection.js';
export type { ReplicationConnection, ReplicationEndpoint, DumpSink } from './replication-connection.js';
export { mysqlSecurityOptions, securityFailure } from './mysql-security.js';
export type { MysqlSecurity, TlsSettings, TlsMode } from './mysql-security.js';
export { nodeTlsOptions } from './tls-options.js';
export { PIN_BACKSLASH_ESCAPES } from './session-sql-mode.js';
export { classifyServerError, leavesConnectionUnusable, serverError } from './server-error-class.js';
export { changeSourceSql } from './replication-source.js';
export type { BoundStatement, SourceSecurity } from './replication-source.js';
