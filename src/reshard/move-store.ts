import type { MysqlSession, RawRowSession } from '../net/index.js';
import { quoteIdent } from '../shard/index.js';
import type { MoveState } from './move-state.js';

type Session = Pick<MysqlSession, 'query'> | Pick<RawRowSession, 'query'>;

/**
 * Where a move's state lives: `<metaDatabase>.reshard_moves` on the move's target instance — the
 * instance whose rows the move writes, so a copied chunk or an applied transaction and the
 * progress that records it commit in one transaction there (a kill -9 can neither lose nor
 * repeat progress). `reshard status` reads the table on every instance.
 */
export class MoveStore {
  readonly table: string;

  constructor(metaDatabase: string) {
    this.table = `${quoteIdent(metaDatabase)}.\`reshard_moves\``;
  }

  async ensure(s: Session): Promise<void> {
    await s.query(
      `CREATE TABLE IF NOT EXISTS ${this.table} (id VARCHAR(64) NOT NULL PRIMARY KEY, state MEDIUMTEXT NOT NULL, updated_at DATETIME(6) NOT NULL) ENGINE=InnoDB`,
    );
  }

  /** Writes the state (inside the caller's transaction when it has one open). */
  async save(s: Session, state: MoveState): Promise<void> {
    state.updatedAt = new Date().toISOString();
    await s.query(
      `INSERT INTO ${this.table} (id, state, updated_at) VALUES (?, ?, NOW(6)) ON DUPLICATE KEY UPDATE state = VALUES(state), updated_at = NOW(6)`,
      [state.id, JSON.stringify(state)],
    );
  }

  /** Every move recorded on this instance, newest first (none when the table does not exist yet). */
  async all(s: Session): Promise<MoveState[]> {
    try {
      const rows = (await s.query(`SELECT state FROM ${this.table} ORDER BY updated_at DESC`)) as Record<string, unknown>[];
      return rows.map((r) => JSON.parse(String(r['state'])) as MoveState);
    } catch (err) {
      if ((err as { errno?: number }).errno === 1146) return [];
      throw err;
    }
  }
}
