import { crc32 } from 'node:zlib';
import { ReshardError } from '../errors/index.js';
import { MOVE_FENCE_SQLSTATE, quoteIdent } from '../shard/index.js';
import type { MovedTable } from './moved-tables.js';

/** The row events a fence trigger guards. */
export const FENCE_EVENTS = ['INSERT', 'UPDATE', 'DELETE'] as const;
export type FenceEvent = (typeof FENCE_EVENTS)[number];

/** `<metaDatabase>.reshard_fence`: one row per move on its source, `fenced` 0 until the cut-over. */
export function fenceTable(meta: string): string {
  return `${quoteIdent(meta)}.\`reshard_fence\``;
}

export function createFenceTableSql(meta: string): string {
  return `CREATE TABLE IF NOT EXISTS ${fenceTable(meta)} (move VARCHAR(128) NOT NULL PRIMARY KEY, fenced TINYINT NOT NULL DEFAULT 0, changed_at DATETIME(6) NOT NULL) ENGINE=InnoDB`;
}

/** A trigger name unique per table and event, within MySQL's 64 characters. */
export function fenceTriggerName(table: string, event: FenceEvent): string {
  const name = `_sl_fence_${event[0]!.toLowerCase()}_${table}`;
  if (name.length <= 64) return name;
  return `_sl_fence_${event[0]!.toLowerCase()}_${crc32(table).toString(16).padStart(8, '0')}_${table.slice(0, 40)}`;
}

function literal(text: string): string {
  if (!/^[A-Za-z0-9_,.:-]{1,128}$/.test(text))
    throw new ReshardError('RESHARD_FAILED', `a move id must be letters, digits and _,.:- (got ${JSON.stringify(text.slice(0, 40))})`);
  return `'${text}'`;
}

/**
 * The fence trigger of one moving table and event: before every row change it reads the move's
 * fence row with a locking read (so a transaction's old snapshot cannot hide the fence) and fails
 * the statement with `MOVE_FENCE_SQLSTATE` (the router's contract) once the row says fenced — or cannot be read (MariaDB
 * skips a row the fence is flipping, MySQL waits for the flip; a missing row also fences:
 * fail closed). The fence flip (an UPDATE of that row) waits for the writers that read it
 * unfenced to commit, so after the flip no write to the table can commit on this instance. Pure.
 */
export function fenceTriggerSql(flavour: 'mysql' | 'mariadb', meta: string, move: string, table: MovedTable, event: FenceEvent): string {
  const lock = flavour === 'mariadb' ? 'LOCK IN SHARE MODE SKIP LOCKED' : 'FOR SHARE';
  const id = literal(move);
  return [
    `CREATE TRIGGER IF NOT EXISTS ${quoteIdent(table.database)}.${quoteIdent(fenceTriggerName(table.table, event))}`,
    `BEFORE ${event} ON ${quoteIdent(table.database)}.${quoteIdent(table.table)} FOR EACH ROW`,
    'BEGIN',
    '  DECLARE v_fenced INT DEFAULT 1;',
    '  BEGIN',
    '    DECLARE CONTINUE HANDLER FOR SQLEXCEPTION, NOT FOUND SET v_fenced = 1;',
    `    SELECT f.fenced INTO v_fenced FROM ${fenceTable(meta)} AS f WHERE f.move = ${id} ${lock};`,
    '  END;',
    `  IF v_fenced <> 0 THEN SIGNAL SQLSTATE '${MOVE_FENCE_SQLSTATE}' SET MESSAGE_TEXT = 'shardline: this shard is fenced by shard move ${move}'; END IF;`,
    'END',
  ].join('\n');
}
