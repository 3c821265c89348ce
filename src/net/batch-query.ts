import type { Connection, ResultSetHeader } from 'mysql2';
import { leavesConnectionUnusable, serverError } from './server-error-class.js';
import { PIN_BACKSLASH_ESCAPES } from './session-sql-mode.js';
import { committedGtid } from './gtid-tracking.js';
import { startQuery } from './query-command.js';

/** One statement of a batch, with the values its `?` placeholders take. */
export interface BatchStatement {
  sql: string;
  params: readonly unknown[];
}

/**
 * What a batch did. `done` statements succeeded, in order; when `error` is set, statement `done`
 * failed and the server ran none after it (a multi-statement packet stops at its first error).
 * `connectionLost` says the error was not the server's answer to a statement: the connection
 * broke or timed out, so statement `done` (and any after it) may or may not have run.
 */
export interface BatchReply {
  done: number;
  affectedRows: number[];
  /** The GTIDs the session committed in the batch, as the server reported them (connections opened with `trackGtids`). */
  gtids?: string[];
  error?: unknown;
  connectionLost?: boolean;
}

/**
 * Text of a multi-statement packet: each statement formatted with its values by mysql2's
 * `format` (the escaping every `query()` uses), preceded by the session's backslash-escapes pin
 * (see `session-sql-mode.ts`). The server parses the statements of a packet one after another,
 * after running the previous one, so the pin is in force when it reads the values: the escaping
 * is right whatever the session's sql_mode was. Statements end with a newline before `;` so a
 * trailing `-- comment` cannot swallow the separator.
 */
export function batchText(conn: Pick<Connection, 'format'>, statements: readonly BatchStatement[]): string {
  let text = `${PIN_BACKSLASH_ESCAPES};\n`;
  for (let i = 0; i < statements.length; i++) {
    const s = statements[i]!;
    text += s.params.length ? conn.format(s.sql, s.params as unknown[]) : s.sql;
    text += i === statements.length - 1 ? '\n' : '\n;\n';
  }
  return text;
}

/**
 * Runs `statements` in one COM_QUERY round trip on a connection opened with
 * `multipleStatements` (counting the server's OK packets to know where a failure happened). Never
 * throws: a failure is in the reply. Statements must not return rows (writes and transaction
 * control only).
 */
export function runBatch(
  conn: Connection,
  statements: readonly BatchStatement[],
  timeoutMs: number | undefined,
  onFatal: () => void,
): Promise<BatchReply> {
  const affectedRows: number[] = [];
  const gtids: string[] = [];
  // The pin comes first and is not the caller's: results are counted from -1.
  let seen = -1;
  const sql = batchText(conn, statements);
  return new Promise<BatchReply>((resolve) => {
    const q = startQuery(conn, sql, undefined, timeoutMs, (err) => {
      if (err) {
        const info = err as { fatal?: boolean; code?: string };
        // lost: the packet may have run; a packet too large was refused whole, yet ends the connection too
        const lost = info.fatal === true || info.code === 'PROTOCOL_SEQUENCE_TIMEOUT';
        if (leavesConnectionUnusable(err)) onFatal();
        resolve({
          done: affectedRows.length,
          affectedRows,
          ...(gtids.length ? { gtids } : {}),
          error: serverError(err, statements[affectedRows.length]?.sql),
          connectionLost: lost,
        });
        return;
      }
      resolve({ done: affectedRows.length, affectedRows, ...(gtids.length ? { gtids } : {}) });
    });
    q.on('result', (rs: unknown) => {
      if (seen++ < 0) return;
      const ok = rs as ResultSetHeader;
      affectedRows.push(typeof ok?.affectedRows === 'number' ? ok.affectedRows : 0);
      const gtid = committedGtid(ok);
      if (gtid) gtids.push(gtid);
    });
  });
}
