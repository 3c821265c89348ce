import { BinlogError } from '../../../errors/index.js';
import { otherServer, positionAtOrAfter, type Checkpoint } from '../../checkpoint/checkpoint.js';
import type { VersionEpoch } from '../../events/source-version.js';
import { MariadbGtidState, MysqlGtidSet } from '../../../gtid/index.js';
import type { BinlogEvent } from '../decoder/binlog-event.js';
import { parseXaStatement, xaXidKey, type XaStatement } from '../decoder/xa-xid.js';
import { PreparedXaBranches, type PreparedBranch } from './prepared-xa-branches.js';
import type { RowsEvent, TransactionItem } from './transaction-items.js';

/** Identity of the server the stream comes from (goes into every checkpoint). */
export interface StreamOrigin {
  instance: string;
  flavour: 'mysql' | 'mariadb';
  serverUuid: string | null;
  serverId: number;
  /** How this server's positions become versions (goes into every checkpoint; absent: epoch 0). */
  epoch?: VersionEpoch;
}

interface Pending {
  gtid: string | null;
  commitUs: bigint | null;
  standalone: boolean;
  begun: boolean;
  /** Where the transaction starts (its GTID event, else its first event). */
  file: string;
  pos: number;
  /** Already handed out before the checkpoint the stream resumed from: nothing of it is handed out again. */
  covered: boolean;
  /** An XA branch being read up to its XA_PREPARE: its rows are kept, nothing is handed out. */
  xa: PreparedBranch | null;
}

const BEGIN = /^\s*BEGIN\s*$/i;
const COMMIT = /^\s*(COMMIT|ROLLBACK)\s*$/i;
const XA = /^\s*XA\s/i;

/**
 * Turns the event stream into transactions with explicit boundaries (pure): GTID/BEGIN open a
 * transaction, XID or a COMMIT query closes it with the checkpoint to store, a DDL statement is
 * a transaction of its own. Rows are passed through as they come (never buffered), so a huge
 * transaction costs no memory here. Tracks the GTID set from its start point (or from the next
 * file's PREVIOUS_GTIDS / GTID_LIST when started at a plain position).
 *
 * XA: the rows of an XA branch (MySQL: GTID, `XA START`, rows, `XA END`, XA_PREPARE; MariaDB:
 * a GTID flagged FL_PREPARED_XA, rows, `XA END`, XA_PREPARE) are kept by xid and handed out
 * as one transaction when its `XA COMMIT` is read — the commit's GTID, time and position are the
 * transaction's, as the rows become visible then; `XA ROLLBACK` drops them; `XA COMMIT … ONE
 * PHASE` (an XA_PREPARE flagged one_phase) is handed out at once. While branches are prepared,
 * every checkpoint carries `resume`: the start of the earliest of them, so that a restart reads
 * them again; started from such a checkpoint, the assembler hands out nothing of the
 * transactions the checkpoint covers (those that end at or before it).
 */
export class TransactionAssembler {
  private pending: Pending | null = null;
  private mysqlSet: MysqlGtidSet | null = null;
  private mariadbState: MariadbGtidState | null = null;
  private readonly prepared = new PreparedXaBranches();
  /** The checkpoint resumed from while re-reading what it covers (see {@link Checkpoint.resume}); null past it. */
  private covering: Checkpoint | null;
  private coveredSet: MysqlGtidSet | MariadbGtidState | null = null;

  /**
   * @param startGtidSet the GTID set where reading starts (a checkpoint's `resume.gtidSet` when it has one)
   * @param resumedFrom the checkpoint reading resumed from, when it has a `resume` point: the
   *   transactions it covers are read again (for the prepared XA branches among them) but not handed out
   */
  constructor(
    private readonly origin: StreamOrigin,
    startGtidSet: string | null,
    resumedFrom: Checkpoint | null = null,
  ) {
    if (startGtidSet !== null) {
      if (origin.flavour === 'mysql') this.mysqlSet = MysqlGtidSet.parse(startGtidSet);
      else this.mariadbState = MariadbGtidState.parse(startGtidSet);
    }
    this.covering = resumedFrom?.resume ? resumedFrom : null;
    if (this.covering && otherServer(this.covering, origin) && this.covering.gtidSet !== null)
      this.coveredSet =
        origin.flavour === 'mysql' ? MysqlGtidSet.parse(this.covering.gtidSet) : MariadbGtidState.parse(this.covering.gtidSet);
  }

  /** Whether a transaction is open (begun, not yet committed). */
  get inTransaction(): boolean {
    return this.pending?.begun ?? false;
  }

  /** How many XA branches are prepared and not yet committed or rolled back (their rows are held). */
  get preparedBranches(): number {
    return this.prepared.size;
  }

  /** Forgets the open transaction (after a dropped connection). */
  reset(): void {
    this.pending = null;
  }

  /** The GTID set known at this point, or null. */
  get gtidSet(): string | null {
    return (this.mysqlSet ?? this.mariadbState)?.toString() ?? null;
  }

  /** Feeds one event; returns the items it produces (usually zero or one). */
  accept(event: BinlogEvent): TransactionItem[] {
    switch (event.kind) {
      case 'gtid': {
        if (this.pending?.begun || this.pending?.xa)
          throw this.error(event, `GTID ${event.gtid} inside the open transaction ${this.pending.gtid ?? '(anonymous)'}`);
        const gtid = event.flavour === 'mysql' ? (event.anonymous ? null : event.gtid) : event.gtid;
        const p = this.open(event, gtid);
        p.commitUs = event.flavour === 'mysql' ? event.commitTimestampUs : null;
        p.standalone = event.flavour === 'mariadb' && event.standalone;
        if (event.flavour === 'mariadb' && event.xa?.phase === 'prepared') {
          p.xa = this.branch(p);
          return [];
        }
        if (event.flavour === 'mariadb' && !event.standalone) return this.begin(event);
        return [];
      }
      case 'query': {
        const xa = XA.test(event.sql) ? this.xaStatement(event) : null;
        if (xa) return this.xaQuery(event, xa);
        if (this.pending?.xa) return [];
        if (BEGIN.test(event.sql)) {
          if (this.pending?.begun) return [];
          return this.begin(event);
        }
        if (COMMIT.test(event.sql)) {
          if (!this.pending?.begun) throw this.error(event, `${event.sql.trim()} without an open transaction`);
          return this.commit(event);
        }
        if (this.pending?.begun && !this.pending.standalone) return this.hand({ type: 'query', event });
        return [...this.begin(event), ...this.hand({ type: 'query', event }), ...this.commit(event)];
      }
      case 'xid':
        if (!this.pending?.begun) throw this.error(event, 'XID without an open transaction');
        return this.commit(event);
      case 'xa-prepare':
        return this.xaPrepare(event);
      case 'rows':
        if (this.pending?.xa) {
          this.pending.xa.rows.push(event);
          return [];
        }
        if (!this.pending?.begun) throw this.error(event, `rows of ${event.table.database}.${event.table.table} outside a transaction`);
        return this.hand({ type: 'rows', event });
      case 'previous-gtids':
        if (this.origin.flavour === 'mysql') (this.mysqlSet ??= new MysqlGtidSet()).union(MysqlGtidSet.parse(event.gtidSet));
        return [];
      case 'gtid-list':
        if (this.origin.flavour === 'mariadb')
          (this.mariadbState ??= new MariadbGtidState()).fill(MariadbGtidState.parse(event.gtids.join(',')));
        return [];
      default:
        return [];
    }
  }

  /** `XA START` opens a branch (MySQL); `XA END` is part of it; `XA COMMIT` / `XA ROLLBACK` finish a prepared one. */
  private xaQuery(event: Extract<BinlogEvent, { kind: 'query' }>, xa: XaStatement): TransactionItem[] {
    switch (xa.verb) {
      case 'start': {
        if (this.pending?.begun || this.pending?.xa) throw this.error(event, `${event.sql.trim()} inside an open transaction`);
        const p = this.pending ?? this.open(event, null);
        p.xa = this.branch(p);
        return [];
      }
      case 'end':
        if (!this.pending?.xa) throw this.error(event, `${event.sql.trim()} outside an XA branch`);
        return [];
      case 'commit':
      case 'rollback': {
        if (this.pending?.begun || this.pending?.xa) throw this.error(event, `${event.sql.trim()} inside an open transaction`);
        const branch = this.prepared.take(xaXidKey(xa.xid));
        if (xa.verb === 'commit' && branch && !xa.onePhase) {
          this.pending ??= this.open(event, null);
          return [...this.begin(event), ...branch.rows.flatMap((e) => this.hand({ type: 'rows', event: e })), ...this.commit(event)];
        }
        // A rollback, or a commit of a branch not prepared in what was read (empty, or prepared
        // before the reader's first start): a transaction without rows.
        return [...this.begin(event), ...this.hand({ type: 'query', event }), ...this.commit(event)];
      }
      case 'prepare':
        throw this.error(event, `${event.sql.trim()} as a statement (servers log XA_PREPARE events)`);
    }
  }

  /** XA_PREPARE ends a branch: kept until its XA COMMIT, or handed out now when one-phase. */
  private xaPrepare(event: Extract<BinlogEvent, { kind: 'xa-prepare' }>): TransactionItem[] {
    const p = this.pending;
    if (!p?.xa) throw this.error(event, 'XA_PREPARE outside an XA branch');
    const branch = p.xa;
    if (event.onePhase) {
      p.xa = null;
      const at = { ...event, file: p.file, pos: p.pos };
      return [...this.begin(at), ...branch.rows.flatMap((e) => this.hand({ type: 'rows', event: e })), ...this.commit(event)];
    }
    this.prepared.prepare(xaXidKey(event.xid), branch);
    this.pending = null;
    this.addGtid(p.gtid);
    return [];
  }

  private xaStatement(event: Extract<BinlogEvent, { kind: 'query' }>): XaStatement | null {
    try {
      return parseXaStatement(event.sql);
    } catch (err) {
      throw this.error(event, err instanceof Error ? err.message : String(err));
    }
  }

  private branch(p: Pending): PreparedBranch {
    return { start: { file: p.file, pos: p.pos, gtidSet: this.gtidSet }, rows: [] as RowsEvent[] };
  }

  private open(event: BinlogEvent, gtid: string | null): Pending {
    this.pending = {
      gtid,
      commitUs: null,
      standalone: false,
      begun: false,
      file: event.file,
      pos: event.pos,
      covered: this.covers(event, gtid),
      xa: null,
    };
    return this.pending;
  }

  /** Whether the checkpoint resumed from covers the transaction starting at `event` (it was handed out before). */
  private covers(event: BinlogEvent, gtid: string | null): boolean {
    const c = this.covering;
    if (!c) return false;
    if (otherServer(c, this.origin)) return gtid !== null && this.coveredSet !== null && this.coveredBy(this.coveredSet, gtid);
    if (!positionAtOrAfter(event, c)) return true;
    this.covering = null;
    return false;
  }

  /** Whether a checkpoint of another server (a failover) covers `gtid`: positions do not compare there, GTIDs do. */
  private coveredBy(set: MysqlGtidSet | MariadbGtidState, gtid: string): boolean {
    if (set instanceof MysqlGtidSet) return set.has(gtid);
    const one = new MariadbGtidState();
    one.add(gtid);
    return set.covers(one);
  }

  private hand(item: TransactionItem): TransactionItem[] {
    return this.pending?.covered ? [] : [item];
  }

  private begin(event: BinlogEvent): TransactionItem[] {
    const p = this.pending ?? this.open(event, null);
    p.begun = true;
    return this.hand({ type: 'begin', gtid: p.gtid, commitUs: p.commitUs, timestamp: event.timestamp, file: event.file, pos: event.pos });
  }

  private addGtid(gtid: string | null): void {
    if (gtid === null) return;
    if (this.origin.flavour === 'mysql') this.mysqlSet?.add(gtid);
    else this.mariadbState?.add(gtid);
  }

  private commit(event: BinlogEvent): TransactionItem[] {
    const p = this.pending!;
    const items = this.hand({ type: 'commit', gtid: p.gtid, commitUs: p.commitUs, checkpoint: this.checkpointAfter(event) });
    this.pending = null;
    return items;
  }

  private checkpointAfter(event: BinlogEvent): Checkpoint {
    this.addGtid(this.pending!.gtid);
    const checkpoint: Checkpoint = Object.assign({}, this.origin, { file: event.file, pos: event.nextPos, gtidSet: this.gtidSet });
    const resume = this.prepared.earliest();
    if (resume) checkpoint.resume = resume;
    return checkpoint;
  }

  private error(event: BinlogEvent, message: string): BinlogError {
    return new BinlogError('BINLOG_DECODE', `transaction structure: ${message}`, event);
  }
}
