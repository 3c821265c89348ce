import { canonicalRow, type CanonicalValue } from '../cdc/binlog/decoder/canonical-json.js';
import type { Checkpoint } from '../cdc/checkpoint/checkpoint.js';
import type { LogicalTableSchema } from '../cdc/schema/logical-columns.js';
import { archiveParam } from '../cdc/sinks/archive/archive-values.js';
import type { TransactionSource } from '../cdc/pipeline/transaction-source.js';
import { ReshardError } from '../errors/index.js';
import { applied, parseApplied } from '../gtid/index.js';
import type { RawRowSession } from '../net/index.js';
import { quoteIdent } from '../shard/index.js';
import type { MovedTable } from './moved-tables.js';
import type { MoveProgress } from './move-progress.js';

/** A statement the catch-up runs on the target. */
interface Bound {
  sql: string;
  params: unknown[];
}

/** How often a position with nothing to apply is recorded anyway (ms). */
const IDLE_SAVE_MS = 2000;

/** Past this many changed keys a table is checked whole at the fence (bounds the memory of tracking). */
const MAX_TRACKED_KEYS = 2000;

/** A row change read from the source, kept until its transaction is applied. */
interface Changed {
  table: string;
  schema: LogicalTableSchema;
  row: { before: unknown; after: unknown };
}

/** The rows the catch-up changed since tracking began: keys per table, or `whole` past the bound. */
export type TouchedRows = Map<string, { keys: Map<string, unknown[]>; whole: boolean }>;

/**
 * Applies the source's binlog changes of the moved tables to the target, one source transaction
 * in one target transaction with its position (so a restart neither loses nor repeats one), from
 * a position before the copy: every change is applied as a full row image (REPLACE of the row
 * after, DELETE by the key before), so changes the copy already saw apply again harmlessly and
 * the target converges on the source. Needs `binlog_row_image = FULL` on the source.
 */
export class CatchUp {
  private position: Checkpoint;
  private changes: number;
  private lastAppliedAt = performance.now();
  /** Commit time (ms) of the last source transaction read, and when it was read. */
  private lag = { ms: 0, at: performance.now() };
  private stopped = false;
  private source: TransactionSource | null = null;
  private readonly byKey: Map<string, { table: MovedTable; schema: LogicalTableSchema }>;
  private touchedRows: TouchedRows | null = null;

  constructor(
    private readonly o: {
      move: string;
      open: (from: Checkpoint) => TransactionSource;
      target: RawRowSession;
      progress: MoveProgress;
      tables: readonly { table: MovedTable; schema: LogicalTableSchema }[];
      from: Checkpoint;
      changes: number;
    },
  ) {
    this.position = o.from;
    this.changes = o.changes;
    this.byKey = new Map(o.tables.map((t) => [t.table.key, t]));
  }

  /** The last source transaction applied (or passed over). */
  get at(): Checkpoint {
    return this.position;
  }

  get applied(): number {
    return this.changes;
  }

  /** How far behind the source the applier is: the age of the last transaction read when it was read, 0 when idle (ms). */
  get lagMs(): number {
    return this.lag.ms;
  }

  /**
   * From now on, remembers the primary keys of the rows it changes (before and after images), so
   * that a final check can compare only those: rows not among them have not changed on either
   * side since (nothing else writes the target's moving tables).
   */
  trackTouched(): void {
    this.touchedRows = new Map();
  }

  /** The rows changed since {@link trackTouched}, or null when it was not called. */
  get touched(): TouchedRows | null {
    return this.touchedRows;
  }

  /** Whether everything up to `gtid` (a source GTID set or position) has been applied. */
  covers(gtid: string): boolean {
    const have = this.position.gtidSet;
    return have !== null && applied(parseApplied(have), parseApplied(gtid));
  }

  /** Reads and applies until `stop()`; throws what the source or the target threw. */
  async run(): Promise<void> {
    while (!this.stopped) {
      const source = this.o.open(this.position);
      this.source = source;
      let pending: Bound[] = [];
      let changed: Changed[] = [];
      try {
        for await (const item of source.items()) {
          if (item.type === 'begin') {
            pending = [];
            changed = [];
            const commitMs = item.commitUs !== null ? Number(item.commitUs / 1000n) : item.timestamp * 1000;
            this.lag = { ms: Math.max(0, Date.now() - commitMs), at: performance.now() };
          } else if (item.type === 'rows') {
            const t = this.byKey.get(`${item.event.table.database}.${item.event.table.table}`);
            if (t)
              for (const row of item.event.rows) {
                pending.push(...statements(t.table, t.schema, item.event.op, row));
                changed.push({ table: t.table.key, schema: t.schema, row });
              }
          } else if (item.type === 'abort') {
            pending = [];
            changed = [];
          } else if (item.type === 'commit') {
            await this.commit(pending, item.checkpoint, changed);
            pending = [];
            changed = [];
          }
          if (this.stopped) break;
        }
        if (this.stopped) return;
      } finally {
        source.close();
        this.source = null;
      }
    }
  }

  private touch(table: string, schema: LogicalTableSchema, row: { before: unknown; after: unknown }): void {
    let t = this.touchedRows!.get(table);
    if (!t) this.touchedRows!.set(table, (t = { keys: new Map(), whole: false }));
    if (t.whole) return;
    for (const image of [row.before, row.after]) {
      const r = canonicalRow(image as never);
      if (!r) continue;
      const key = schema.primaryKey.map((k) => param(schema, k, r));
      t.keys.set(key.map((v) => (Buffer.isBuffer(v) ? `x${v.toString('hex')}` : `s${String(v)}`)).join('\u0000'), key);
    }
    if (t.keys.size > MAX_TRACKED_KEYS) {
      t.whole = true;
      t.keys.clear();
    }
  }

  stop(): void {
    this.stopped = true;
    this.source?.close();
  }

  private async commit(pending: Bound[], at: Checkpoint, changed: readonly Changed[]): Promise<void> {
    const idle = pending.length === 0;
    if (idle && performance.now() - this.lastAppliedAt < IDLE_SAVE_MS) {
      this.position = at;
      this.lag = { ms: 0, at: performance.now() };
      return;
    }
    await this.o.target.query('START TRANSACTION');
    try {
      for (const s of pending) await this.o.target.query(s.sql, s.params);
      await this.o.progress.saveApplied(this.o.target, this.o.move, at, this.changes + pending.length);
      await this.o.target.query('COMMIT');
    } catch (err) {
      await this.o.target.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    this.changes += pending.length;
    if (this.touchedRows) for (const c of changed) this.touch(c.table, c.schema, c.row);
    this.position = at;
    this.lastAppliedAt = performance.now();
    if (idle) this.lag = { ms: 0, at: performance.now() };
  }
}

/** The target statements of one row change: a full-row REPLACE for the image after, a DELETE by key for a row gone or re-keyed. */
export function statements(
  table: MovedTable,
  schema: LogicalTableSchema,
  op: 'c' | 'u' | 'd' | 'r',
  row: { before: Record<string, unknown> | null; after: Record<string, unknown> | null },
): Bound[] {
  const name = `${quoteIdent(table.database)}.${quoteIdent(table.table)}`;
  const before = canonicalRow(row.before as never);
  const after = canonicalRow(row.after as never);
  const out: Bound[] = [];
  const keyOf = (r: Record<string, CanonicalValue>) => schema.primaryKey.map((k) => param(schema, k, r));
  if (before && (op === 'd' || (after && keyOf(before).some((v, i) => !same(v, keyOf(after)[i]))))) {
    out.push({
      sql: `DELETE FROM ${name} WHERE ${schema.primaryKey.map((k) => `${quoteIdent(k)} = ?`).join(' AND ')}`,
      params: keyOf(before),
    });
  }
  if (after && op !== 'd') {
    const cols = Object.keys(after);
    for (const c of cols)
      if (!schema.columns.some((x) => x.name === c))
        throw new ReshardError(
          'RESHARD_FAILED',
          `${table.key}: the binlog has column ${c}, which the move's schema of ${schema.table} does not (a schema change during a move is not supported)`,
        );
    out.push({
      sql: `REPLACE INTO ${name} (${cols.map(quoteIdent).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
      params: cols.map((c) => param(schema, c, after)),
    });
  }
  return out;
}

function param(schema: LogicalTableSchema, column: string, row: Record<string, CanonicalValue>): unknown {
  const c = schema.columns.find((x) => x.name === column);
  if (!c) throw new ReshardError('RESHARD_FAILED', `${schema.table}: no column ${column}`);
  return archiveParam(c, row[column] ?? null);
}

function same(a: unknown, b: unknown): boolean {
  return Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : String(a) === String(b);
}
