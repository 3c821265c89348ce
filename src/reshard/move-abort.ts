import { ReshardError } from '../errors/index.js';
import type { RawRowSession } from '../net/index.js';
import { quoteIdent, type ShardMap } from '../shard/index.js';
import { dropFenceRow } from './fence-steps.js';
import type { MoveState } from './move-state.js';
import type { MovedTable } from './moved-tables.js';
import { FENCE_EVENTS, fenceTriggerName } from './write-fence.js';

/** What `reshard abort` undid. */
export interface AbortReport {
  id: string;
  kind: MoveState['kind'];
  shards: string;
  from: string;
  to: string;
  /** The phase the move had reached. */
  phase: MoveState['phase'];
  /** Fence triggers dropped on the source (0 when the move had not installed them). */
  triggers_dropped: number;
  /** Copies of the moving tables dropped on the target. */
  tables_dropped: number;
}

/**
 * Refuses to abort a move whose new shard map is out: from then on routers may write to the
 * target, so the shards' data is only whole there. `map` is the highest version any instance holds.
 * @throws {ReshardError} RESHARD_FAILED
 */
export function checkAbortable(state: MoveState, map: ShardMap): void {
  if (map.version > state.mapVersion && state.shards.some((s) => map.instanceOf(s) === state.to))
    throw new ReshardError(
      'RESHARD_FAILED',
      `move ${state.id} published shard map version ${map.version} (its shards are on ${state.to} now): it cannot be aborted; finish it with \`reshard move\` and undo it with \`reshard rollback\``,
    );
}

/**
 * Undoes an unfinished move that has not published its map: drops the fence triggers on the
 * source, then its fence row (writes to the moving shards are taken again if it was fenced), and
 * the target's copies of the moving tables with the ledger rows that created them. The source
 * never stopped owning the shards, so nothing it holds changes.
 */
export async function undoMove(
  state: MoveState,
  tables: readonly MovedTable[],
  meta: string,
  source: RawRowSession,
  target: RawRowSession,
): Promise<{ triggers: number; tables: number }> {
  const present = async (s: RawRowSession, sql: string, params: unknown[]) => (await s.query<Record<string, unknown>>(sql, params)).length;
  let triggers = 0;
  for (const t of tables) {
    for (const e of FENCE_EVENTS) {
      const name = fenceTriggerName(t.table, e);
      if (
        await present(source, 'SELECT 1 FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? AND TRIGGER_NAME = ?', [t.database, name])
      ) {
        await source.query(`DROP TRIGGER IF EXISTS ${quoteIdent(t.database)}.${quoteIdent(name)}`);
        triggers++;
      }
    }
  }
  await dropFenceRow(source, meta, state.id);
  let dropped = 0;
  for (const t of tables) {
    if (await present(target, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [t.database, t.table])) {
      await target.query(`DROP TABLE IF EXISTS ${quoteIdent(t.database)}.${quoteIdent(t.table)}`);
      dropped++;
    }
  }
  const shards = [...new Set(tables.map((t) => t.shard))];
  if (shards.length)
    await target
      .query(
        `DELETE FROM ${quoteIdent(meta)}.\`schema_migrations\` WHERE target IN (${shards.map(() => '?').join(', ')})`,
        shards.map((s) => `shard:${String(s).padStart(4, '0')}`),
      )
      .catch((err: unknown) => {
        if ((err as { errno?: number }).errno !== 1146) throw err;
      });
  return { triggers, tables: dropped };
}
