import type { RowsEvent, TransactionItem } from '../../src/cdc/binlog/syncer/transaction-items.js';
import type { Checkpoint } from '../../src/cdc/checkpoint/checkpoint.js';
import type { TransactionSource, TransactionSources } from '../../src/cdc/pipeline/transaction-source.js';
import { ShardlineError } from '../../src/errors/index.js';

const SERVER_UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';

/** One committed source transaction of the fake server. */
export interface FakeTransaction {
  gtid: string;
  table: { database: string; table: string };
  /** The `id` of each changed row, in order. */
  ids: bigint[];
  /** Rows per rows event (the last event takes the rest). */
  rowsPerEvent: number;
  /** Inserts (`c`, the default) or deletes (`d`) of those rows. */
  op: 'c' | 'd';
  /** An archival marker row (`<meta>.archival_batches`) written first, naming `db.table`. */
  marker?: { meta: string; db: string; table: string };
  /** Position of its begin; its commit checkpoint is `end`. */
  pos: number;
  end: number;
}

/** Where a {@link FakeBinlog} stream does something other than hand out the next item. */
export interface FakeFault {
  /** The item index (0-based, counted over one open stream) before which to act. */
  at: number;
  /** `stall`: wait until `release()` or `close()`; `drop`: the connection is lost (abort, then a retriable error). */
  action: 'stall' | 'drop';
  /** Only in the n-th opened stream (0-based; default: the next one opened). */
  stream?: number;
}

/**
 * A fake MySQL server's binlog behind {@link TransactionSources}: source transactions the test
 * appends, handed out as the real transaction stream hands them out (begin, rows events,
 * commit with a checkpoint at the transaction's end; `abort` when a stream closes or drops inside
 * a transaction), from right after the checkpoint a stream is opened at, live: a stream waits
 * for more transactions until it is closed. No I/O.
 */
export class FakeBinlog implements TransactionSources {
  readonly transactions: FakeTransaction[] = [];
  /** The checkpoint each stream was opened from, in order. */
  readonly opened: Checkpoint[] = [];
  private readonly faults: FakeFault[] = [];
  private readonly waiters = new Set<() => void>();
  private waiting = 0;
  private stalls = 0;
  private nextPos = 4;
  private gno = 0;

  constructor(readonly instance: string) {}

  /** Appends a committed transaction that changed rows `ids` of `database.table`. */
  append(
    ids: readonly (number | bigint)[],
    o: {
      database?: string;
      table?: string;
      rowsPerEvent?: number;
      op?: 'c' | 'd';
      marker?: { meta: string; db?: string; table?: string };
    } = {},
  ): FakeTransaction {
    const pos = this.nextPos;
    const end = pos + 100 + ids.length;
    this.nextPos = end;
    const t: FakeTransaction = {
      gtid: `${SERVER_UUID}:${++this.gno}`,
      table: { database: o.database ?? 'shop', table: o.table ?? 'items' },
      ids: ids.map((i) => BigInt(i)),
      rowsPerEvent: o.rowsPerEvent ?? 2,
      op: o.op ?? 'c',
      pos,
      end,
    };
    if (o.marker) t.marker = { meta: o.marker.meta, db: o.marker.db ?? t.table.database, table: o.marker.table ?? t.table.table };
    this.transactions.push(t);
    this.wake();
    return t;
  }

  /** True while an open stream has handed out every transaction and waits for more. */
  get idle(): boolean {
    return this.waiting > 0;
  }

  /** True while an open stream waits at a `stall` fault. */
  get stalled(): boolean {
    return this.stalls > 0;
  }

  /** Acts at an item of a stream (see {@link FakeFault}). */
  fault(f: FakeFault): void {
    this.faults.push({ ...f, stream: f.stream ?? this.opened.length });
  }

  /** Lets stalled streams go on. */
  release(): void {
    for (const f of this.faults) if (f.action === 'stall') f.at = -1;
    this.wake();
  }

  checkpointAt(end: number, gno: number): Checkpoint {
    return {
      instance: this.instance,
      flavour: 'mysql',
      serverUuid: SERVER_UUID,
      serverId: 1,
      file: 'binlog.000001',
      pos: end,
      gtidSet: gno > 0 ? `${SERVER_UUID}:1-${gno}` : null,
    };
  }

  async current(): Promise<Checkpoint> {
    return this.checkpointAt(this.nextPos, this.gno);
  }

  open(from: Checkpoint, includeTable: (database: string, table: string) => boolean): TransactionSource {
    const index = this.opened.length;
    this.opened.push(from);
    let closed = false;
    let connected = false;
    const items = (): AsyncGenerator<TransactionItem> =>
      this.items(
        index,
        from,
        includeTable,
        () => closed,
        () => (connected = true),
      );
    return {
      get facts() {
        return connected ? { serverUuid: SERVER_UUID } : null;
      },
      close: () => {
        closed = true;
        this.wake();
      },
      items,
    };
  }

  private async *items(
    index: number,
    from: Checkpoint,
    includeTable: (database: string, table: string) => boolean,
    closed: () => boolean,
    connect: () => void,
  ): AsyncGenerator<TransactionItem> {
    connect();
    let n = 0;
    let t = this.transactions.findIndex((x) => x.pos >= from.pos);
    if (t < 0) t = this.transactions.length;
    for (;;) {
      while (t >= this.transactions.length && !closed()) {
        this.waiting++;
        await this.changed().finally(() => this.waiting--);
      }
      if (closed()) return;
      const txn = this.transactions[t]!;
      let opened = false;
      for (const item of this.itemsOf(txn, t + 1, includeTable)) {
        const f = this.faults.find((x) => x.stream === index && x.at === n);
        if (f?.action === 'drop') {
          if (opened) yield { type: 'abort', reason: 'connection lost inside a transaction: injected' };
          throw new ShardlineError('BINLOG_CONNECTION', 'injected connection loss', { retriable: true });
        }
        while (f?.action === 'stall' && f.at === n && !closed()) {
          this.stalls++;
          await this.changed().finally(() => this.stalls--);
        }
        if (closed()) {
          if (opened) yield { type: 'abort', reason: 'stream closed inside a transaction' };
          return;
        }
        n++;
        opened = item.type !== 'commit';
        yield item;
      }
      t++;
    }
  }

  private *itemsOf(
    t: FakeTransaction,
    gno: number,
    includeTable: (database: string, table: string) => boolean,
  ): Generator<TransactionItem> {
    yield {
      type: 'begin',
      gtid: t.gtid,
      commitUs: 1_700_000_000_000_000n + BigInt(gno),
      timestamp: 1_700_000_000,
      file: 'binlog.000001',
      pos: t.pos,
    };
    if (t.marker) {
      const m = t.marker;
      const event = rowsEvent({ ...t, table: { database: m.meta, table: 'archival_batches' }, op: 'c' }, t.pos + 5, [], false);
      const included = includeTable(m.meta, 'archival_batches');
      yield {
        type: 'rows',
        event: {
          ...event,
          ...(included ? {} : { filtered: true }),
          rows: included ? [{ before: null, after: { id: 1n, physical_db: m.db, physical_table: m.table } }] : [],
        },
      };
    }
    const filtered = !includeTable(t.table.database, t.table.table);
    for (let i = 0; i < t.ids.length; i += t.rowsPerEvent) {
      const ids = t.ids.slice(i, i + t.rowsPerEvent);
      yield { type: 'rows', event: rowsEvent(t, t.pos + 10 + i, filtered ? [] : ids, filtered) };
    }
    yield { type: 'commit', gtid: t.gtid, commitUs: null, checkpoint: this.checkpointAt(t.end, gno) };
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }
}

function rowsEvent(t: FakeTransaction, pos: number, ids: bigint[], filtered: boolean): RowsEvent {
  const col = {
    index: 0,
    name: 'id',
    type: 8,
    realType: 8,
    meta: 0,
    precision: 0,
    scale: 0,
    nullable: false,
    unsigned: true,
    collation: 0,
    enumValues: null,
    setValues: null,
  };
  return {
    kind: 'rows',
    op: t.op,
    table: { tableId: 7, database: t.table.database, table: t.table.table, columns: [col], hasNames: true, primaryKey: [0] },
    rows: ids.map((id) => (t.op === 'd' ? { before: { id }, after: null } : { before: null, after: { id } })),
    ...(filtered ? { filtered: true } : {}),
    timestamp: 1_700_000_000,
    eventType: 30,
    serverId: 1,
    eventSize: 40,
    nextPos: pos + 1,
    flags: 0,
    file: 'binlog.000001',
    pos,
  };
}
