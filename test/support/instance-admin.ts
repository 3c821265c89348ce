import mysql from 'mysql2/promise';
import type { Router } from '../../src/index.js';
import { testConfig } from './cluster.js';

/** A mysql2 connection of its own to the instance that holds `uid`'s shard (the router's credentials), for what a test does beside the router. */
export async function connectionToShardOf(router: Router, uid: bigint): Promise<mysql.Connection> {
  const name = router.topology.locate(uid).instance;
  const endpoint = testConfig().instances.find((i) => i.name === name)!;
  return mysql.createConnection({ host: endpoint.host, port: endpoint.port, user: endpoint.user, password: endpoint.password });
}
