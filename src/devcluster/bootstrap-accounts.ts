import type { MysqlSession } from '../net/index.js';
import type { ServiceSpec } from './service-spec.js';

/**
 * Creates the dev cluster's accounts on a fresh server, idempotently: `root` reachable over
 * TCP from 127.0.0.1 with an empty password (dev only, as the official images'
 * allow-empty-password), the application account and the replication account (REPLICATION
 * SLAVE: the CDC worker's binlog readers and the read replicas log in with it). Values are
 * bound, never spliced into the SQL text. Runs on primaries only: replicas get all of it by
 * replication.
 */
export async function bootstrapAccounts(session: MysqlSession, spec: ServiceSpec): Promise<void> {
  const sql = spec.sql;
  if (!sql) return;
  const mariadb = spec.kind === 'mariadb';
  await session.query("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''");
  await session.query("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION");
  await session.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [sql.user, '%', sql.password]);
  await session.query('ALTER USER ?@? IDENTIFIED BY ?', [sql.user, '%', sql.password]);
  await session.query('GRANT ALL PRIVILEGES ON *.* TO ?@?', [sql.user, '%']);
  // MariaDB's ALL includes READ_ONLY ADMIN, which writes through read_only: the account (which
  // read replicas get by replication) must not write on a replica
  if (mariadb) await session.query('REVOKE READ_ONLY ADMIN ON *.* FROM ?@?', [sql.user, '%']);
  if (sql.replication) {
    const { user, password } = sql.replication;
    await session.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [user, '%', password]);
    await session.query('ALTER USER ?@? IDENTIFIED BY ?', [user, '%', password]);
    const grants = mariadb
      ? 'REPLICATION SLAVE, BINLOG MONITOR, REPLICATION MASTER ADMIN, SELECT, RELOAD'
      : 'REPLICATION SLAVE, REPLICATION CLIENT, SELECT, RELOAD, BACKUP_ADMIN';
    await session.query(`GRANT ${grants} ON *.* TO ?@?`, [user, '%']);
  }
  if (sql.database) {
    await session.query(`CREATE DATABASE IF NOT EXISTS \`${sql.database.replace(/`/g, '``')}\``);
  }
  await session.query('FLUSH PRIVILEGES');
}
