/** A statement and the values its `?` placeholders take. */
export interface BoundStatement {
  sql: string;
  values: unknown[];
}

/** How a replica reaches its source: encrypted (with the CA to check it, if any) or with the source's pinned RSA key. */
export interface SourceSecurity {
  tls?: { ca?: string | undefined } | undefined;
  /** The source's `public_key.pem` (MySQL, caching_sha2_password over plain TCP); without it the replica fetches the key. */
  publicKeyPath?: string | undefined;
}

/**
 * The statement that points a node at a replication source with GTID positioning, every value
 * bound (pure): MySQL `CHANGE REPLICATION SOURCE TO … SOURCE_AUTO_POSITION=1`, MariaDB
 * `CHANGE MASTER TO … MASTER_USE_GTID=<position>` — `slave_pos` for a replica, `current_pos` for
 * a demoted primary (its `gtid_slave_pos` knows nothing of what it wrote itself).
 */
export function changeSourceSql(
  flavour: 'mysql' | 'mariadb',
  source: { host: string; port: number },
  account: { user: string; password: string },
  security: SourceSecurity,
  mariadbPosition: 'slave_pos' | 'current_pos' = 'slave_pos',
): BoundStatement {
  const values: unknown[] = [source.host, source.port, account.user, account.password];
  const mariadb = flavour === 'mariadb';
  const k = mariadb ? 'MASTER' : 'SOURCE';
  const parts = [`${k}_HOST=?`, `${k}_PORT=?`, `${k}_USER=?`, `${k}_PASSWORD=?`];
  parts.push(mariadb ? `MASTER_USE_GTID=${mariadbPosition}` : 'SOURCE_AUTO_POSITION=1', `${k}_CONNECT_RETRY=2`);
  if (security.tls) {
    parts.push(`${k}_SSL=1`);
    if (security.tls.ca) {
      parts.push(`${k}_SSL_CA=?`);
      values.push(security.tls.ca);
    }
  } else if (!mariadb) {
    if (security.publicKeyPath) {
      parts.push('SOURCE_PUBLIC_KEY_PATH=?');
      values.push(security.publicKeyPath);
    } else parts.push('GET_SOURCE_PUBLIC_KEY=1');
  }
  return { sql: `${mariadb ? 'CHANGE MASTER TO' : 'CHANGE REPLICATION SOURCE TO'} ${parts.join(', ')}`, values };
}
