import genericPool, { type Pool } from 'generic-pool';
import type { PoolConfig } from '../config/index.js';
import { ShardUnavailableError, UsageError, isClientRefusal, sanitizeDriverError } from '../errors/index.js';
import type { DbConnection, IdleWatcher, InstanceEndpoint, SocketLayer, TcpInfoSnapshot } from '../net/index.js';
import { backoffDelayMs, sleep, type BackoffPolicy } from '../retry/index.js';
import { CircuitBreaker, type BreakerState } from './circuit-breaker.js';

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

/** TCP health over the instance's open connections (TCP_INFO; null on the JS layer). */
export interface TcpHealth {
  connections: number;
  rttUs: number;
  retransmits: number;
}

/** Counters of what the borrow checks and the idle watch found. */
export interface PoolEvents {
  reapedIdle: number;
  rejectedOnBorrow: number;
  expired: number;
  pinged: number;
}

/** Longest part of a connection error's message quoted in a pool error. */
const MAX_CAUSE_TEXT = 300;

/** Fields of a sanitized creation error (DriverError or ShardlineError) the pool reports. */
interface CreationFailure {
  message: string;
  code?: unknown;
  errno?: unknown;
  kind?: unknown;
  retriable?: unknown;
}

/** `message (CODE)`, short, for a pool error's message; the code is left out when the message names it. */
function describeFailure(err: unknown): string {
  const e = err as CreationFailure;
  const text = String(e?.message ?? err);
  const short = text.length > MAX_CAUSE_TEXT ? `${text.slice(0, MAX_CAUSE_TEXT)}…` : text;
  return typeof e?.code === 'string' && !short.includes(e.code) ? `${short} (${e.code})` : short;
}

/** A connection idle in the pool's own stack this long goes back to generic-pool (reaped each second). */
const RETURN_IDLE_MS = 1000;

const DONE: Promise<void> = Promise.resolve();

interface Waiter {
  resolve(conn: DbConnection): void;
  reject(err: ShardUnavailableError): void;
  /** Date.now() after which the borrow fails with POOL_TIMEOUT. */
  deadline: number;
}

/** FIFO of waiting borrows: an array with a moving head (no O(n) shift per hand-off). */
class WaiterQueue {
  private items: (Waiter | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(w: Waiter): void {
    this.items.push(w);
  }

  peek(): Waiter | undefined {
    return this.items[this.head];
  }

  shift(): Waiter | undefined {
    if (this.head >= this.items.length) return undefined;
    const w = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return w;
  }
}

/** Wait before creating a connection again after `n` failures in a row: 100 ms doubling to 2 s. */
const CREATE_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 2000, jitter: 'none' };

interface Tracked {
  conn: DbConnection;
  expiresAt: number;
  /** In the pool (not borrowed). */
  idle: boolean;
  pending: Promise<void> | null;
}

/**
 * One generic-pool of connections to one physical instance, hardened:
 * - borrow check: a connection idle for more than `validateAfterIdleMs` is probed (poll + TCP_INFO,
 *   no round trip) and replaced if dead; idle connections sit in an epoll idle watch that finds
 *   a closed or reset peer without a round trip;
 * - eviction below the server's wait_timeout, max lifetime with jitter, pings of long-idle ones;
 * - LIFO, bounded wait queue, acquire timeout, back-off inside `create`;
 * - a circuit breaker: while open, calls fail fast with a retriable ShardUnavailableError.
 */
export class InstancePool {
  readonly breaker: CircuitBreaker;
  private readonly pool: Pool<DbConnection>;
  private readonly tracked = new Map<number, Tracked>();
  private readonly watch: IdleWatcher;
  private readonly timers: NodeJS.Timeout[] = [];
  private createFailures = 0;
  /**
   * Why the last connection attempt failed (sanitized: never a password, never the driver's own
   * object), until a connection is made again. generic-pool swallows creation errors; borrows
   * that fail because of them carry this as their cause.
   */
  private lastCreateError: unknown = undefined;
  private readonly events: PoolEvents = { reapedIdle: 0, rejectedOnBorrow: 0, expired: 0, pinged: 0 };
  /** Connections generic-pool lent this pool that are idle here (LIFO): a borrow takes one without a generic-pool round. */
  private readonly idle: Tracked[] = [];
  /** Borrows waiting for a connection (FIFO, one deadline each); failed at once when the breaker opens. */
  private readonly waiting = new WaiterQueue();
  /** Connections lent by generic-pool: idle here or borrowed by a caller. */
  private lent = 0;
  /** generic-pool acquires in flight, one per waiting borrow at most and never above `max` with `lent`. */
  private supplying = 0;
  private waitTimer: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(
    readonly endpoint: InstanceEndpoint,
    private readonly config: PoolConfig,
    factory: ConnectionFactory,
    /** Shards this instance holds, for error messages. */
    readonly shardRange: string,
    private readonly layer: SocketLayer,
    now: () => number = Date.now,
  ) {
    this.breaker = new CircuitBreaker(config.breaker, now);
    this.breaker.onChange((state) => {
      if (state === 'open' && this.waiting.length > 0) this.failWaiters(this.unavailable('circuit opened while waiting for a connection'));
    });
    this.watch = layer.createIdleWatch();
    this.pool = genericPool.createPool<DbConnection>(
      {
        create: async () => {
          if (this.createFailures > 0) await sleep(backoffDelayMs(CREATE_BACKOFF, this.createFailures));
          try {
            const conn = await factory(endpoint);
            this.createFailures = 0;
            this.lastCreateError = undefined;
            const jitter = 1 - Math.random() * 0.1;
            this.tracked.set(conn.id, { conn, expiresAt: Date.now() + config.maxLifetimeMs * jitter, idle: false, pending: null });
            return conn;
          } catch (raw) {
            const err = sanitizeDriverError(raw);
            this.createFailures++;
            this.lastCreateError = err;
            this.breaker.failure();
            if (!this.creationRetriable()) this.failWaiters(this.unavailable('cannot connect'));
            throw err;
          }
        },
        destroy: async (conn) => {
          this.forget(conn);
          if (conn.broken) conn.destroy();
          else await conn.close();
        },
        validate: async (conn) => !conn.broken,
      },
      {
        min: config.min,
        max: config.max,
        acquireTimeoutMillis: config.acquireTimeoutMs,
        idleTimeoutMillis: config.idleTimeoutMs,
        evictionRunIntervalMillis: Math.min(5000, config.idleTimeoutMs),
        testOnBorrow: false,
        fifo: false,
        autostart: true,
      },
    );
    const reaper = setInterval(() => this.reap(), 1000);
    const pinger = setInterval(() => this.pingIdle(), Math.max(1000, Math.floor(config.pingIdleMs / 2)));
    reaper.unref();
    pinger.unref();
    this.timers.push(reaper, pinger);
  }

  private forget(conn: DbConnection): void {
    if (conn.socket) this.watch.remove(conn.socket);
    this.tracked.delete(conn.id);
  }

  /** Fails every borrow waiting for a connection with `err`. */
  private failWaiters(err: ShardUnavailableError): void {
    for (let w = this.waiting.shift(); w; w = this.waiting.shift()) w.reject(err);
    this.disarmWaitTimer();
  }

  /** False when the last connection attempt failed for a reason retrying cannot fix (credentials, unknown host, TLS). */
  private creationRetriable(): boolean {
    const e = this.lastCreateError as CreationFailure | undefined;
    return e === undefined || e === null || typeof e !== 'object' || e.retriable !== false;
  }

  /** `; last connection attempt failed: …` and the details of the last creation error, when there is one. */
  private lastFailure(): { text: string; details: Record<string, unknown> } {
    const err = this.lastCreateError;
    if (err === undefined) return { text: '', details: {} };
    const e = err as CreationFailure;
    return {
      text: `; last connection attempt failed: ${describeFailure(err)}`,
      details: { lastError: { code: e?.code, errno: e?.errno, kind: e?.kind, retriable: e?.retriable } },
    };
  }

  /**
   * SHARD_UNAVAILABLE naming why and, when connecting failed, the last connection error (as
   * cause, and briefly in the message); retriable unless that error is not (credentials, unknown host).
   */
  private unavailable(why: string): ShardUnavailableError {
    const last = this.lastFailure();
    return new ShardUnavailableError(
      'SHARD_UNAVAILABLE',
      `instance ${this.endpoint.name} (shards ${this.shardRange}) is unavailable: ${why}${last.text}`,
      {
        retriable: this.creationRetriable(),
        cause: this.lastCreateError,
        details: { instance: this.endpoint.name, shards: this.shardRange, breaker: this.breaker.state, ...last.details },
      },
    );
  }

  /**
   * The borrow check: takes the connection out of the idle watch and says why it must not be
   * used, or null. A connection used within `validateAfterIdleMs` skips the probe.
   */
  private unusable(t: Tracked): string | null {
    const now = Date.now();
    const idle = now - t.conn.lastUsedAt;
    const socket = t.conn.socket;
    let alive = true;
    if (socket) {
      if (idle > this.config.validateAfterIdleMs) alive = this.watch.checkout(socket);
      else this.watch.remove(socket);
    }
    if (t.conn.broken) return 'broken';
    if (now >= t.expiresAt) return 'expired';
    if (idle > Math.min(this.config.idleTimeoutMs * 2, t.conn.waitTimeoutMs * 0.8)) return 'idle beyond wait_timeout';
    return alive ? null : 'dead';
  }

  /**
   * Borrows a checked connection: an idle one at once when there is one, else the first connection
   * released or lent by generic-pool (waiting borrows are served in arrival order).
   * @throws {ShardUnavailableError} SHARD_UNAVAILABLE (breaker open), POOL_EXHAUSTED, POOL_TIMEOUT.
   */
  async acquire(): Promise<DbConnection> {
    if (!this.breaker.allow()) throw this.unavailable(`circuit open since ${new Date(this.breaker.openedSince).toISOString()}`);
    for (;;) {
      const ready = this.idle.pop();
      const conn = ready ? ready.conn : await this.wait();
      const t = ready ?? this.tracked.get(conn.id);
      if (t?.pending) await t.pending;
      if (t) t.idle = false;
      if (!t && conn.socket) this.watch.remove(conn.socket);
      const why = t ? this.unusable(t) : conn.broken ? 'broken' : null;
      if (!why) return conn;
      if (why === 'expired') this.events.expired++;
      else this.events.rejectedOnBorrow++;
      conn.destroy();
      await this.discard(conn);
    }
  }

  /**
   * Queues a borrow for the next connection released or lent; asks generic-pool for one when below
   * `max`. generic-pool's own queue holds only those requests (at most `max`), so it gets no bound of
   * its own: one would make it refuse them, and `supply` would ask again at once.
   */
  private wait(): Promise<DbConnection> {
    if (this.closing) return Promise.reject(this.unavailable('the pool is closing'));
    // Borrows a connection is being or can be opened for do not count as waiting (with 0, a
    // borrow still opens connections up to `max`, then fails fast).
    if (this.waiting.length >= this.config.maxWaitingClients + Math.max(0, this.config.max - this.lent))
      return Promise.reject(this.exhausted());
    return new Promise<DbConnection>((resolve, reject) => {
      this.waiting.push({ resolve, reject, deadline: Date.now() + this.config.acquireTimeoutMs });
      if (this.waitTimer === null) this.armWaitTimer();
      this.supply();
    });
  }

  /** Asks generic-pool for connections (it creates them, with back-off) while borrows wait and `max` allows. */
  private supply(): void {
    while (this.supplying < this.waiting.length && this.lent + this.supplying < this.config.max && !this.closing) {
      this.supplying++;
      this.pool.acquire().then(
        (conn) => {
          this.supplying--;
          this.lent++;
          this.offer(conn, this.tracked.get(conn.id));
        },
        () => {
          // generic-pool gave up (its acquire timeout, the waiters' too): ask again for any borrow still waiting.
          this.supplying--;
          this.supply();
        },
      );
    }
  }

  /** A connection lent to this pool is free: the first waiting borrow takes it, else it is idle here. */
  private offer(conn: DbConnection, t: Tracked | undefined): void {
    const w = this.waiting.shift();
    if (w) {
      if (this.waiting.length === 0) this.disarmWaitTimer();
      w.resolve(conn);
      return;
    }
    if (this.closing || !t) {
      this.lent--;
      void this.pool.release(conn).catch(() => undefined);
      return;
    }
    t.idle = true;
    this.idle.push(t);
  }

  /** Destroys a lent connection and asks for a replacement when borrows wait. */
  private async discard(conn: DbConnection): Promise<void> {
    this.lent--;
    await this.pool.destroy(conn).catch(() => undefined);
    this.supply();
  }

  /** One timer for the oldest waiting borrow's deadline (every waiter has the same timeout, so deadlines are in order). */
  private armWaitTimer(): void {
    const head = this.waiting.peek();
    if (!head) return;
    this.waitTimer = setTimeout(
      () => {
        this.waitTimer = null;
        const now = Date.now();
        for (let w = this.waiting.peek(); w && w.deadline <= now; w = this.waiting.peek()) {
          this.waiting.shift();
          w.reject(this.timedOut());
        }
        this.armWaitTimer();
      },
      Math.max(0, head.deadline - Date.now()),
    );
  }

  private disarmWaitTimer(): void {
    if (this.waitTimer === null) return;
    clearTimeout(this.waitTimer);
    this.waitTimer = null;
  }

  private exhausted(): ShardUnavailableError {
    return new ShardUnavailableError(
      'POOL_EXHAUSTED',
      `instance ${this.endpoint.name} (shards ${this.shardRange}): all ${this.config.max} connections are in use and ${this.config.maxWaitingClients} requests already wait for one (pool.maxWaitingClients)`,
      { retriable: true, details: { instance: this.endpoint.name } },
    );
  }

  private timedOut(): ShardUnavailableError {
    const last = this.lastFailure();
    return new ShardUnavailableError(
      'POOL_TIMEOUT',
      `instance ${this.endpoint.name} (shards ${this.shardRange}): no connection within ${this.config.acquireTimeoutMs} ms${last.text}`,
      {
        retriable: this.creationRetriable(),
        cause: this.lastCreateError,
        details: { instance: this.endpoint.name, ...last.details },
      },
    );
  }

  /** Returns a connection; a broken or expired one is destroyed (a healthy one joins the idle watch once idle: see `reap`). */
  release(conn: DbConnection): Promise<void> {
    const t = this.tracked.get(conn.id);
    if (t?.idle)
      return Promise.reject(
        new UsageError(`connection ${conn.id} of instance ${this.endpoint.name} was released but is not borrowed (released twice?)`),
      );
    conn.lastUsedAt = Date.now();
    if (conn.broken || !t || conn.lastUsedAt >= t.expiresAt) {
      if (t && !conn.broken) this.events.expired++;
      return this.discard(conn);
    }
    this.offer(conn, t);
    return DONE;
  }

  /** Borrows, runs `fn`, and always gives the connection back; feeds the breaker. */
  async use<T>(fn: (conn: DbConnection) => Promise<T>): Promise<T> {
    const conn = await this.acquire();
    let failure: unknown = true;
    try {
      const result = await fn(conn);
      failure = false;
      return result;
    } catch (err) {
      failure = err ?? true;
      throw err;
    } finally {
      await this.settle(conn, failure);
    }
  }

  /**
   * Gives back a connection borrowed with `acquire` after work that `use` could not wrap (a row
   * stream), feeding the breaker as `use` does: a failure when the work failed and the connection
   * broke under it (the instance is in doubt), a success otherwise — a server error is the
   * instance answering, a connection closed on purpose (a stream left early) or by the driver
   * refusing a result (`isClientRefusal`) is no failure.
   * @param failure what the work failed with (`true` when there is no error to pass), or false / undefined when it did not
   */
  settle(conn: DbConnection, failure: unknown): Promise<void> {
    if (failure && conn.broken && !isClientRefusal(failure)) this.breaker.failure();
    else this.breaker.success();
    return this.release(conn);
  }

  /** Gives connections idle here for `RETURN_IDLE_MS` back to generic-pool (its idle eviction and `min` see them there). */
  private returnIdle(now: number): void {
    let kept = 0;
    for (const t of this.idle) {
      if (now - t.conn.lastUsedAt < RETURN_IDLE_MS && !this.closing) this.idle[kept++] = t;
      else {
        this.lent--;
        void this.pool.release(t.conn).catch(() => undefined);
      }
    }
    this.idle.length = kept;
  }

  /**
   * Idle connections whose peer closed or reset: mark them broken so the next borrow drops them.
   * A connection joins the idle watch here, once idle for `validateAfterIdleMs` — not at every
   * release: a busy connection never pays the watch's two syscalls per query, and the borrow
   * check probes any connection idle that long whether it is watched or not.
   */
  reap(): number {
    const now = Date.now();
    this.returnIdle(now);
    for (const t of this.tracked.values()) {
      const socket = t.conn.socket;
      if (!t.idle || !socket || t.conn.broken || now - t.conn.lastUsedAt < this.config.validateAfterIdleMs) continue;
      try {
        this.watch.add(socket, t.conn.id);
      } catch {
        /* already watched */
      }
    }
    const dead = this.watch.reapDead();
    for (const id of dead) {
      const t = this.tracked.get(id);
      if (!t) continue;
      t.conn.destroy();
      this.events.reapedIdle++;
    }
    return dead.length;
  }

  private pingIdle(): void {
    const now = Date.now();
    for (const t of this.tracked.values()) {
      if (!t.idle || t.pending || t.conn.broken || now - t.conn.lastUsedAt < this.config.pingIdleMs) continue;
      this.events.pinged++;
      t.pending = t.conn
        .ping()
        .then(() => {
          t.conn.lastUsedAt = Date.now();
        })
        .catch(() => t.conn.destroy())
        .finally(() => {
          t.pending = null;
        });
    }
  }

  stats(): PoolStats {
    return {
      instance: this.endpoint.name,
      size: this.pool.size,
      available: this.pool.available + this.idle.length,
      borrowed: this.pool.borrowed - this.idle.length,
      pending: this.waiting.length,
      max: this.pool.max,
    };
  }

  /** Mean RTT and summed retransmits over open connections (null without TCP_INFO). */
  tcpHealth(): TcpHealth | null {
    const infos: TcpInfoSnapshot[] = [];
    for (const t of this.tracked.values()) {
      const info = t.conn.socket && !t.conn.broken ? this.layer.tcpInfo(t.conn.socket) : null;
      if (info) infos.push(info);
    }
    if (infos.length === 0) return null;
    return {
      connections: infos.length,
      rttUs: Math.round(infos.reduce((n, i) => n + i.rttUs, 0) / infos.length),
      retransmits: infos.reduce((n, i) => n + i.totalRetransmits, 0),
    };
  }

  breakerState(): BreakerState {
    return this.breaker.state;
  }

  counters(): PoolEvents {
    return { ...this.events };
  }

  /** Waits for borrowed connections to come back, then closes all. */
  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.closing = true;
    this.returnIdle(Date.now());
    while (this.waiting.length > 0 || this.supplying > 0) await new Promise((r) => setTimeout(r, 10));
    this.disarmWaitTimer();
    await this.pool.drain();
    await this.pool.clear();
    this.watch.close();
  }
}
