import { runArchival, type ArchivalRunReport } from '../archival/index.js';
import type { ClusterConfig } from '../config/index.js';
import type { Logger } from '../log/logger.js';
import { openMysqlSession, type MysqlSession } from '../net/index.js';

/** Options of an {@link ArchivalSchedule}. */
export interface ArchivalScheduleOptions {
  config: ClusterConfig;
  /** Time between the start of one run and the next attempt (ms). */
  everyMs: number;
  logger: Logger;
  /** Runs the job (default: `runArchival`); tests inject one. */
  run?: (config: ClusterConfig, options: { signal: AbortSignal; log: Logger }) => Promise<ArchivalRunReport>;
  /** Opens the session that holds the lock (default: the first instance's application account). */
  lockSession?: () => Promise<MysqlSession>;
}

/**
 * `cdc.archival.schedule`: the archival job run inside the CDC worker every `everyMs`. One runner
 * at a time across workers: a run starts only while its worker holds the MySQL user lock
 * `<groupPrefix>.archival` (GET_LOCK, not waiting) on the first instance, on a session kept open
 * for the run — the server frees it if the worker dies, so a killed runner never blocks the next.
 * Stopping the worker stops the run after its batches in flight (what is left is found next time).
 */
export class ArchivalSchedule {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly abort = new AbortController();

  constructor(private readonly o: ArchivalScheduleOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.attempt(), this.o.everyMs);
    this.timer.unref();
  }

  /** One attempt now (the interval's work); resolves when it ran or found another runner. */
  attempt(): Promise<void> {
    this.running ??= this.once().finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.abort.abort();
    await this.running;
  }

  private async once(): Promise<void> {
    if (this.abort.signal.aborted) return;
    const { config, logger } = this.o;
    const lock = `${config.cdc.groupPrefix}.archival`;
    let session: MysqlSession;
    try {
      session = await (this.o.lockSession ?? (() => openMysqlSession(firstInstance(config))))();
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'archival schedule: cannot reach the lock instance; trying at the next interval');
      return;
    }
    try {
      const [got] = await session.query<{ got: number | string | null }>('SELECT GET_LOCK(?, 0) AS got', [lock]);
      if (Number(got?.got) !== 1) {
        logger.info({ lock }, 'archival schedule: another worker runs the job');
        return;
      }
      const report = await (this.o.run ?? runArchival)(config, { signal: this.abort.signal, log: logger });
      logger.info(
        {
          rows_deleted: report.rows_deleted,
          rows_per_s: report.rows_per_s,
          tables: report.tables.length,
          interrupted: report.interrupted ?? false,
        },
        'archival schedule: run finished',
      );
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'archival schedule: the run failed; trying at the next interval');
    } finally {
      await session.query('SELECT RELEASE_LOCK(?)', [lock]).catch(() => undefined);
      await session.close().catch(() => undefined);
    }
  }
}

function firstInstance(config: ClusterConfig) {
  const i = config.instances[0]!;
  return { host: i.host, port: i.port, user: i.user, password: i.password, tls: i.tls, serverPublicKey: i.serverPublicKey };
}
