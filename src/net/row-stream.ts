import type { Connection, FieldPacket } from 'mysql2';
import type { FieldInfo, Row } from './db-connection.js';
import { serverError } from './server-error-class.js';

/** Rows of one SELECT as they arrive; `fields` is known once the first row (or the end) is read. */
export interface RowStream extends AsyncIterable<Row> {
  readonly fields: readonly FieldInfo[];
}

const LONGLONG = 8;

/**
 * Streams a SELECT's rows with back-pressure (mysql2 pauses the socket while `highWaterMark`
 * rows wait), BIGINT as bigint like `query`. Stopping early (break, throw) leaves the server
 * mid-result: the connection is then destroyed through `broke`, never reused; after the server's
 * own error (an error packet ends the result) it stays usable. A connection lost mid-result
 * (killed, reset, timed out by the socket layer) fails the stream with its error.
 */
export function streamRows(conn: Connection, sql: string, params: readonly unknown[], broke: () => void, highWaterMark = 128): RowStream {
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
      try {
        for await (const row of readable as AsyncIterable<Row>) {
          for (const name of longlong) {
            const v = row[name];
            if (typeof v === 'string' || typeof v === 'number') row[name] = BigInt(v);
          }
          yield row;
        }
        finished = true;
      } catch (err) {
        // the server's error packet ended the result: the connection is at a clean state
        const e = err as { errno?: unknown; fatal?: unknown };
        if (typeof e.errno === 'number' && e.errno > 0 && e.fatal !== true) finished = true;
        throw serverError(err, sql);
      } finally {
        conn.off('error', lost);
        if (!finished) {
          readable.destroy();
          broke();
        }
      }
    },
  };
}
