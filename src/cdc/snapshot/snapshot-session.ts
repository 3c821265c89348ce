import type { InstanceConfig } from '../../config/index.js';
import { openRawRowSession, type RawRowSession } from '../../net/index.js';

/**
 * Opens the connection a snapshot reads an instance with: the replication account (it needs
 * SELECT on the captured tables and REPLICATION CLIENT — MariaDB: BINLOG MONITOR — for the
 * watermarks, as Debezium's account does), with the instance's TLS and pinned server key.
 */
export function snapshotSession(instance: InstanceConfig & { replication: { user: string; password: string } }): Promise<RawRowSession> {
  return openRawRowSession({
    host: instance.host,
    port: instance.port,
    user: instance.replication.user,
    password: instance.replication.password,
    tls: instance.tls,
    serverPublicKey: instance.serverPublicKey,
  });
}
