import genericPool, { type Pool } from 'generic-pool';
import type { PoolConfig } from '../config/index.js';
import { ShardUnavailableError } from '../errors/index.js';
import type { DbConnection, InstanceEndpoint } from '../net/index.js';

/** Opens a connection to one instance (net/ provides it; tests may pass their own). */
export type ConnectionFactory = (endpoint: InstanceEndpoint) => Promise<DbConnection>;

/** Pool occupancy of one instance. */
export interface PoolStats {
  instance: string;
  size: number;
  available: number;
  borrowed: number;
  pending: number;
  max: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One generic-pool of connections to one physical instance: LIFO (cold connections age out),
 * bounded wait queue, acquire timeout, idle eviction, back-off inside `create` so a dead server
 * cannot spin. Broken connections are destroyed, never returned to the pool.
 */
export class InstancePool {
  private readonly pool: Pool<DbConnection>;
  private createFailures = 0;

  constructor(
    readonly endpoint: InstanceEndpoint,
    private readonly config: PoolConfig,
    factory: ConnectionFactory,
    /** Shards this instance holds, for error messages. */
    private readonly shardRange: string,
  ) {
    this.pool = genericPool.createPool<DbConnection>(
      {
        create: async () => {
          if (this.createFailures > 0) await sleep(Math.min(2000, 50 * 2 ** Math.min(this.createFailures, 6)));
          try {
            const conn = await factory(endpoint);
            this.createFailures = 0;
            return conn;
          } catch (err) {
            this.createFailures++;
            throw err;
          }
        },
        destroy: async (conn) => {
          if (conn.broken) conn.destroy();
          else await conn.close();
        },
        validate: async (conn) => !conn.broken,
      },
      {
        min: config.min,
        max: config.max,
        acquireTimeoutMillis: config.acquireTimeoutMs,
        maxWaitingClients: config.maxWaitingClients,
        idleTimeoutMillis: config.idleTimeoutMs,
        evictionRunIntervalMillis: Math.min(5000, config.idleTimeoutMs),
        testOnBorrow: false,
        fifo: false,
        autostart: true,
      },
    );
  }

  /** Borrows a connection. @throws {ShardUnavailableError} POOL_EXHAUSTED or POOL_TIMEOUT. */
  async acquire(): Promise<DbConnection> {
    try {
      for (;;) {
        const conn = await this.pool.acquire();
        if (!conn.broken) return conn;
        await this.pool.destroy(conn);
      }
    } catch (err) {
      const message = (err as Error).message ?? '';
      if (/max waitingClients/i.test(message)) {
        throw new ShardUnavailableError('POOL_EXHAUSTED', `instance ${this.endpoint.name} (shards ${this.shardRange}): ${this.config.maxWaitingClients} requests already wait for a connection`, {
          retriable: true,
          details: { instance: this.endpoint.name },
        });
      }
      throw new ShardUnavailableError('POOL_TIMEOUT', `instance ${this.endpoint.name} (shards ${this.shardRange}): no connection within ${this.config.acquireTimeoutMs} ms`, {
        retriable: true,
        cause: err,
        details: { instance: this.endpoint.name },
      });
    }
  }

  /** Returns a connection; a broken one is destroyed instead. */
  async release(conn: DbConnection): Promise<void> {
    conn.lastUsedAt = Date.now();
    if (conn.broken) await this.pool.destroy(conn);
    else await this.pool.release(conn);
  }

  /** Borrows, runs `fn`, and always gives the connection back. */
  async use<T>(fn: (conn: DbConnection) => Promise<T>): Promise<T> {
    const conn = await this.acquire();
    try {
      return await fn(conn);
    } finally {
      await this.release(conn);
    }
  }

  stats(): PoolStats {
    return {
      instance: this.endpoint.name,
      size: this.pool.size,
      available: this.pool.available,
      borrowed: this.pool.borrowed,
      pending: this.pool.pending,
      max: this.pool.max,
    };
  }

  /** Waits for borrowed connections to come back, then closes all. */
  async close(): Promise<void> {
    await this.pool.drain();
    await this.pool.clear();
  }
}
