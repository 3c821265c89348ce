import { ReshardError } from '../errors/index.js';
import type { RawRowSession } from '../net/index.js';
import { quoteIdent } from '../shard/index.js';
import type { MovedTable } from './moved-tables.js';
import { FENCE_EVENTS, createFenceTableSql, fenceTable, fenceTriggerSql } from './write-fence.js';

/** ER_LOCK_NOWAIT (MySQL) and ER_LOCK_WAIT_TIMEOUT (MariaDB answers NOWAIT with it). */
const BUSY_ERRNO = new Set([3572, 1205]);
const DEADLOCK = 1213;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long the flip tries without queueing behind writers before it waits in line (ms). */
const NOWAIT_FOR_MS = 250;

/**
 * Prepares a move's write fence on its source, before the cut-over: the fence row (unfenced) and
 * a BEFORE INSERT/UPDATE/DELETE trigger on every moving table, spread over `sessions`. Idempotent
 * (a resumed move finds them there). Creating a trigger takes its table's metadata lock for a
 * moment; writes to other tables never wait. A transaction holding a moving table open longer
 * than `lockWaitS` makes it give up (statements on that table queue behind a waiting DDL).
 */
export async function installFence(
  sessions: readonly RawRowSession[],
  flavour: 'mysql' | 'mariadb',
  meta: string,
  move: string,
  tables: readonly MovedTable[],
  lockWaitS: number,
): Promise<void> {
  const s0 = sessions[0]!;
  await s0.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(meta)}`);
  await s0.query(createFenceTableSql(meta));
  await s0.query(`INSERT IGNORE INTO ${fenceTable(meta)} (move, fenced, changed_at) VALUES (?, 0, NOW(6))`, [move]);
  const work = tables.flatMap((t) => FENCE_EVENTS.map((e) => fenceTriggerSql(flavour, meta, move, t, e)));
  let next = 0;
  await Promise.all(
    sessions.map(async (s) => {
      await s.query(`SET SESSION lock_wait_timeout = ${Math.max(1, Math.floor(lockWaitS))}`);
      while (next < work.length) await s.query(work[next++]!);
    }),
  );
}

/** Whether the move's fence row says fenced (false when unfenced or absent). */
export async function isFenced(s: RawRowSession, meta: string, move: string): Promise<boolean> {
  const rows = await s
    .query<Record<string, unknown>>(`SELECT fenced FROM ${fenceTable(meta)} WHERE move = ?`, [move])
    .catch((err: unknown) => {
      if ((err as { errno?: number }).errno === 1146) return [];
      throw err;
    });
  return Number(rows[0]?.['fenced'] ?? 0) !== 0;
}

/**
 * Flips the fence: from its commit on, every write to a moving table fails with the fence's
 * SQLSTATE, and it commits only after the writers that read the row unfenced have committed — so
 * the source's executed GTIDs read after it cover every change of the moving tables. It first
 * tries without queueing (a writer holding the row shared makes it retry 2 ms later; writers
 * are not held up meanwhile), then waits in line up to `lockWaitS`; a deadlock makes it try again.
 * @throws {ReshardError} RESHARD_FAILED (retriable) when writers held the row past `lockWaitS`
 */
export async function flipFence(s: RawRowSession, meta: string, move: string, lockWaitS: number): Promise<void> {
  const select = `SELECT fenced FROM ${fenceTable(meta)} WHERE move = ? FOR UPDATE NOWAIT`;
  const update = `UPDATE ${fenceTable(meta)} SET fenced = 1, changed_at = NOW(6) WHERE move = ?`;
  const deadline = performance.now() + NOWAIT_FOR_MS;
  while (performance.now() < deadline) {
    try {
      await s.query('START TRANSACTION');
      await s.query(select, [move]);
      await s.query(update, [move]);
      await s.query('COMMIT');
      return;
    } catch (err) {
      await s.query('ROLLBACK').catch(() => undefined);
      if (!BUSY_ERRNO.has((err as { errno?: number }).errno ?? 0)) throw err;
      await sleep(2);
    }
  }
  await s.query(`SET SESSION innodb_lock_wait_timeout = ${Math.max(1, Math.floor(lockWaitS))}`);
  for (let attempt = 0; ; attempt++) {
    try {
      await s.query(update, [move]);
      return;
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      if (errno === DEADLOCK && attempt < 3) continue;
      if (errno === 1205)
        throw new ReshardError(
          'RESHARD_FAILED',
          `writes to the moving tables held the fence for more than ${lockWaitS} s (a long transaction?): nothing was fenced; run the move again`,
          { retriable: true, cause: err },
        );
      throw err;
    }
  }
}

/** Drops a move's fence row (the triggers went with the tables `reshard cleanup` dropped). */
export async function dropFenceRow(s: RawRowSession, meta: string, move: string): Promise<void> {
  await s.query(`DELETE FROM ${fenceTable(meta)} WHERE move = ?`, [move]).catch((err: unknown) => {
    if ((err as { errno?: number }).errno !== 1146) throw err;
  });
}
