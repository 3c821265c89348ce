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
 * mid-result: the connection is then destroyed through `broke`, never reused.
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
        throw serverError(err, sql);
      } finally {
        if (!finished) {
          readable.destroy();
          broke();
        }
      }
    },
  };
}
