import type { Connection, FieldPacket } from 'mysql2';
import type { FieldInfo, Row } from './db-connection.js';
import { leavesConnectionUnusable, serverError } from './server-error-class.js';

/** Rows of one SELECT as they arrive; `fields` is known once the first row (or the end) is read. */
export interface RowStream extends AsyncIterable<Row> {
  readonly fields: readonly FieldInfo[];
}

const LONGLONG = 8;

/** The error of a stream whose server stayed silent too long: mysql2's own shape for a query timeout. */
function silenceTimeout(ms: number): Error {
  return Object.assign(new Error(`Query inactivity timeout: the server sent no row for ${ms} ms`), {
    code: 'PROTOCOL_SEQUENCE_TIMEOUT',
    fatal: true,
  });
}

/**
 * Streams a SELECT's rows with back-pressure (mysql2 pauses the socket while `highWaterMark`
 * rows wait), BIGINT as bigint like `query`. Stopping early (break, throw) leaves the server
 * mid-result: the connection is then destroyed through `broke`, never reused; after the server's
 * own error (an error packet ends the result) it stays usable. A connection lost mid-result
 * (killed, reset, timed out by the socket layer) fails the stream with its error.
 *
 * `silenceMs` (none when 0 or undefined) bounds how long the reader waits for the server: when
 * the reader has asked for the next row and nothing arrives for that long (a statement blocked
 * on a lock, a sort that never ends, a server that stopped answering), the stream fails as a
 * query timed out by mysql2 does (`PROTOCOL_SEQUENCE_TIMEOUT`) and the connection is destroyed.
 * The time the reader takes between rows never counts.
 */
export function streamRows(
  conn: Connection,
  sql: string,
  params: readonly unknown[],
  broke: () => void,
  silenceMs?: number,
  highWaterMark = 128,
): RowStream {
  let fields: FieldInfo[] = [];
  let longlong: string[] = [];
  return {
    get fields() {
      return fields;
    },
    async *[Symbol.asyncIterator]() {
      const query = conn.query({ sql, values: params as unknown[] });
      query.on('fields', (packets: FieldPacket[]) => {
        fields = packets.map((f) => ({
          name: f.name,
          type: f.columnType ?? 0,
          flags: typeof f.flags === 'number' ? f.flags : 0,
          collation: f.characterSet,
        }));
        longlong = packets.filter((f) => f.columnType === LONGLONG).map((f) => f.name);
      });
      const readable = query.stream({ highWaterMark });
      // mysql2 leaves a row stream waiting forever when its connection is lost under it
      // (sidorares/node-mysql2#3082): the connection's error ends the stream
      const lost = (err: Error) => readable.destroy(err);
      conn.on('error', lost);
      let finished = false;
      let waitingSince = 0;
      const watch = silenceMs
        ? setInterval(
            () => {
              if (waitingSince !== 0 && Date.now() - waitingSince >= silenceMs) readable.destroy(silenceTimeout(silenceMs));
            },
            Math.max(5, Math.ceil(silenceMs / 8)),
          )
        : undefined;
      watch?.unref();
      try {
        const rows = (readable as AsyncIterable<Row>)[Symbol.asyncIterator]();
        for (;;) {
          waitingSince = Date.now();
          const next = await rows.next();
          waitingSince = 0;
          if (next.done === true) break;
          const row = next.value;
          for (const name of longlong) {
            const v = row[name];
            if (typeof v === 'string' || typeof v === 'number') row[name] = BigInt(v);
          }
          yield row;
        }
        finished = true;
      } catch (err) {
        // the server's error packet ended the result: the connection is at a clean state
        const e = err as { errno?: unknown };
        if (typeof e.errno === 'number' && e.errno > 0 && !leavesConnectionUnusable(err)) finished = true;
        throw serverError(err, sql);
      } finally {
        clearInterval(watch);
        conn.off('error', lost);
        if (!finished) {
          readable.destroy();
          broke();
        }
      }
    },
  };
}
