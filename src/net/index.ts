export { openMysqlSession } from './mysql-session.js';
export type { MysqlEndpoint, MysqlSession } from './mysql-session.js';
export { openDbConnection } from './db-connection.js';
export type { DbConnection, QueryOutcome, Row, FieldInfo, InstanceEndpoint, ServerErrorInfo, SocketTuning } from './db-connection.js';
export { loadSocketLayer, loadSocketLayerFrom } from './load-socket-layer.js';
export { createJsSocketLayer, readNoFileLimit } from './js-socket-layer.js';
export type { SocketLayer, KeepAliveSettings, TcpInfoSnapshot, ProbeResult, IdleWatcher, NoFileLimit } from './socket-layer.js';
