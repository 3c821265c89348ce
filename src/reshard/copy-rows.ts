import { chunkQuery } from '../cdc/snapshot/chunk-query.js';
import type { LogicalTableSchema } from '../cdc/schema/logical-columns.js';
import type { RawRowSession } from '../net/index.js';
import { quoteIdent } from '../shard/index.js';
import type { MovedTable } from './moved-tables.js';
import type { MoveProgress } from './move-progress.js';
import type { TableCopy } from './move-state.js';
import type { ChunkPacer } from '../cdc/snapshot/chunk-pacer.js';

/** Runs a read of the source when the move's rows-per-second bound allows it, and books the rows it read. */
export async function pacedRead<T>(pacer: ChunkPacer, read: () => Promise<T>, rowsOf: (result: T) => number): Promise<T> {
  const wait = pacer.delay(performance.now());
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const startedAt = performance.now();
  const result = await read();
  pacer.book(startedAt, rowsOf(result));
  return result;
}

/** Copies one physical table from the source to the target in primary-key chunks, resuming after `state.after`. */
export async function copyTable(o: {
  source: RawRowSession;
  target: RawRowSession;
  progress: MoveProgress;
  move: string;
  table: MovedTable;
  schema: LogicalTableSchema;
  chunkRows: number;
  state: TableCopy;
  onChunk: (rows: number) => void;
  /** Paces the chunk reads under the move's rows-per-second bound (shared by every table). */
  pacer: ChunkPacer;
  signal?: AbortSignal;
}): Promise<void> {
  const { table, schema, state } = o;
  const columns = schema.columns.map((c) => ({ name: c.name, float32: c.dataType === 'float' }));
  const keyIndex = schema.primaryKey.map((k) => schema.columns.findIndex((c) => c.name === k));
  const integerKey = keyIndex.map((i) => /int$/.test(schema.columns[i]!.dataType));
  const bind = (after: string[] | null) => (after === null ? null : after.map((v, i) => (integerKey[i] ? BigInt(v) : v)));
  const target = `${quoteIdent(table.database)}.${quoteIdent(table.table)}`;
  const list = schema.columns.map((c) => quoteIdent(c.name)).join(', ');
  const one = `(${schema.columns.map(() => '?').join(', ')})`;
  while (!state.done) {
    if (o.signal?.aborted) throw o.signal.reason;
    const q = chunkQuery(
      { database: table.database, table: table.table, columns, primaryKey: schema.primaryKey },
      bind(state.after),
      o.chunkRows,
    );
    const { rows } = await pacedRead(
      o.pacer,
      () => o.source.select(q.sql, q.params),
      (r) => r.rows.length,
    );
    const next: TableCopy = { ...state };
    if (rows.length < o.chunkRows) next.done = true;
    if (rows.length) {
      const last = rows[rows.length - 1]!;
      next.after = keyIndex.map((i) => {
        const v = last[i];
        return Buffer.isBuffer(v) ? v.toString('latin1') : String(v);
      });
      next.rows += rows.length;
    }
    await o.target.query('START TRANSACTION');
    try {
      if (rows.length) await o.target.query(`REPLACE INTO ${target} (${list}) VALUES ${rows.map(() => one).join(', ')}`, rows.flat());
      await o.progress.saveCopy(o.target, o.move, table.key, next);
      await o.target.query('COMMIT');
    } catch (err) {
      await o.target.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    Object.assign(state, next);
    o.onChunk(rows.length);
  }
}
