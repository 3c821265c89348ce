import { pino } from 'pino';
import { ArchivalSchedule } from '../../src/cdc/archival-schedule.js';
import type { ArchivalRunReport } from '../../src/archival/index.js';
import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import type { MysqlSession } from '../../src/net/index.js';

const config = loadClusterConfig(bundledClusterConfig, {});
const logger = pino({ level: 'silent' });
const report: ArchivalRunReport = {
  run_id: 'r',
  cut: null,
  now: '',
  dry_run: false,
  tables: [],
  rows_deleted: 0,
  rows_per_s: 0,
  seconds: 0,
};

/** A server's user locks as GET_LOCK(name, 0) / RELEASE_LOCK(name) see them, one owner per name. */
function lockServer() {
  const held = new Map<string, number>();
  let next = 0;
  const statements: string[] = [];
  const session = (): Promise<MysqlSession> => {
    const id = ++next;
    const s = {
      query: async (sql: string, values: readonly unknown[] = []) => {
        statements.push(sql);
        const name = String(values[0]);
        if (sql.startsWith('SELECT GET_LOCK')) {
          if (held.has(name) && held.get(name) !== id) return [{ got: 0 }];
          held.set(name, id);
          return [{ got: 1 }];
        }
        if (sql.startsWith('SELECT RELEASE_LOCK') && held.get(name) === id) held.delete(name);
        return [];
      },
      close: async () => {
        for (const [name, owner] of held) if (owner === id) held.delete(name); // the server frees a closed session's locks
      },
    };
    return Promise.resolve(s as unknown as MysqlSession);
  };
  return { session, held, statements };
}

describe('cdc.archival.schedule', () => {
  it('runs the job only while holding the lock: two workers at once run it once, and the lock is free afterwards', async () => {
    const server = lockServer();
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const run = async () => {
      runs++;
      await gate;
      return report;
    };
    const a = new ArchivalSchedule({ config, everyMs: 60_000, logger, run, lockSession: server.session });
    const b = new ArchivalSchedule({ config, everyMs: 60_000, logger, run, lockSession: server.session });
    const first = a.attempt();
    await new Promise((r) => setImmediate(r));
    await b.attempt(); // finds the lock taken: returns without running
    expect(runs).toBe(1);
    expect(server.held.has(`${config.cdc.groupPrefix}.archival`)).toBe(true);
    release();
    await first;
    expect(server.held.size).toBe(0);
    await b.attempt(); // free now
    expect(runs).toBe(2);
    expect(server.statements.filter((s) => s.startsWith('SELECT GET_LOCK'))).toHaveLength(3);
  });

  it('stop() aborts the run in progress and waits for it; a failed run leaves the lock free', async () => {
    const server = lockServer();
    let aborted = false;
    const s = new ArchivalSchedule({
      config,
      everyMs: 60_000,
      logger,
      lockSession: server.session,
      run: (_c, { signal }) =>
        new Promise((resolve) =>
          signal.addEventListener('abort', () => {
            aborted = true;
            resolve({ ...report, interrupted: true });
          }),
        ),
    });
    const attempt = s.attempt();
    await new Promise((r) => setImmediate(r));
    await s.stop();
    await attempt;
    expect(aborted).toBe(true);
    expect(server.held.size).toBe(0);
    const failing = new ArchivalSchedule({
      config,
      everyMs: 60_000,
      logger,
      lockSession: server.session,
      run: () => Promise.reject(new Error('boom')),
    });
    await failing.attempt();
    expect(server.held.size).toBe(0);
  });
});
