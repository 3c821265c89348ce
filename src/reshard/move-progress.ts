import type { RawRowSession } from '../net/index.js';
import { quoteIdent } from '../shard/index.js';
import type { Checkpoint } from '../cdc/checkpoint/checkpoint.js';
import type { TableCopy } from './move-state.js';

/** The progress row of the catch-up (the last source transaction applied). */
const CATCHUP = '@catchup';

/**
 * Progress rows of a move on its target (`<metaDatabase>.reshard_progress`): one per copied
 * table and one for the catch-up, each written in the same transaction as the rows it accounts
 * for — so concurrent table copies never record each other's uncommitted work.
 */
export class MoveProgress {
  readonly table: string;

  constructor(metaDatabase: string) {
    this.table = `${quoteIdent(metaDatabase)}.\`reshard_progress\``;
  }

  async ensure(s: Pick<RawRowSession, 'query'>): Promise<void> {
    await s.query(
      `CREATE TABLE IF NOT EXISTS ${this.table} (move VARCHAR(64) NOT NULL, tbl VARCHAR(160) NOT NULL, after_key MEDIUMTEXT NULL, done_rows BIGINT NOT NULL, done TINYINT NOT NULL, PRIMARY KEY (move, tbl)) ENGINE=InnoDB`,
    );
  }

  async copied(s: Pick<RawRowSession, 'query'>, move: string): Promise<Map<string, TableCopy>> {
    const rows = await s.query<Record<string, unknown>>(
      `SELECT tbl, after_key, done_rows, done FROM ${this.table} WHERE move = ? AND tbl <> ?`,
      [move, CATCHUP],
    );
    return new Map(
      rows.map((r) => [
        String(r['tbl']),
        {
          after: r['after_key'] === null ? null : (JSON.parse(String(r['after_key'])) as string[]),
          rows: Number(r['done_rows']),
          done: Number(r['done']) === 1,
        },
      ]),
    );
  }

  async saveCopy(s: Pick<RawRowSession, 'query'>, move: string, table: string, c: TableCopy): Promise<void> {
    await s.query(
      `INSERT INTO ${this.table} (move, tbl, after_key, done_rows, done) VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE after_key = VALUES(after_key), done_rows = VALUES(done_rows), done = VALUES(done)`,
      [move, table, c.after === null ? null : JSON.stringify(c.after), c.rows, c.done ? 1 : 0],
    );
  }

  async applied(s: Pick<RawRowSession, 'query'>, move: string): Promise<{ at: Checkpoint; changes: number } | null> {
    const rows = await s.query<Record<string, unknown>>(`SELECT after_key, done_rows FROM ${this.table} WHERE move = ? AND tbl = ?`, [
      move,
      CATCHUP,
    ]);
    const r = rows[0];
    return r ? { at: JSON.parse(String(r['after_key'])) as Checkpoint, changes: Number(r['done_rows']) } : null;
  }

  async saveApplied(s: Pick<RawRowSession, 'query'>, move: string, at: Checkpoint, changes: number): Promise<void> {
    await s.query(
      `INSERT INTO ${this.table} (move, tbl, after_key, done_rows, done) VALUES (?, ?, ?, ?, 0) ON DUPLICATE KEY UPDATE after_key = VALUES(after_key), done_rows = VALUES(done_rows)`,
      [move, CATCHUP, JSON.stringify(at), changes],
    );
  }
}
