import { openMysqlSession } from '../../src/net/index.js';
import type { ClusterConfig } from '../../src/config/index.js';

/** A session on the test cluster's archive server (its TLS and key settings), optionally in `database`. */
export function archiveSession(archive: NonNullable<ClusterConfig['archive']>, database?: string) {
  return openMysqlSession({
    host: archive.host,
    port: archive.port,
    tls: archive.tls,
    serverPublicKey: archive.serverPublicKey,
    user: archive.user,
    password: archive.password,
    ...(database ? { database } : {}),
  });
}
