import { BinlogError } from '../../../errors/index.js';
import type { Checkpoint } from '../../checkpoint/checkpoint.js';
import { MariadbGtidState, MysqlGtidSet } from '../../checkpoint/gtid-set.js';
import type { BinlogEvent } from '../decoder/binlog-event.js';
import type { TransactionItem } from './transaction-items.js';

/** Identity of the server the stream comes from (goes into every checkpoint). */
export interface StreamOrigin {
  instance: string;
  flavour: 'mysql' | 'mariadb';
  serverUuid: string | null;
  serverId: number;
}

interface Pending {
  gtid: string | null;
  commitUs: bigint | null;
  standalone: boolean;
  begun: boolean;
}

const BEGIN = /^\s*BEGIN\s*$/i;
const COMMIT = /^\s*(COMMIT|ROLLBACK)\s*$/i;

/**
 * Turns the event stream into transactions with explicit boundaries (pure): GTID/BEGIN open a
 * transaction, XID or a COMMIT query closes it with the checkpoint to store, a DDL statement is
 * a transaction of its own. Rows are passed through as they come (never buffered), so a huge
 * transaction costs no memory here. Tracks the GTID set from its start point (or from the next
 * file's PREVIOUS_GTIDS / GTID_LIST when started at a plain position).
 */
export class TransactionAssembler {
  private pending: Pending | null = null;
  private mysqlSet: MysqlGtidSet | null = null;
  private mariadbState: MariadbGtidState | null = null;

  constructor(
    private readonly origin: StreamOrigin,
    startGtidSet: string | null,
  ) {
    if (startGtidSet !== null) {
      if (origin.flavour === 'mysql') this.mysqlSet = MysqlGtidSet.parse(startGtidSet);
      else this.mariadbState = MariadbGtidState.parse(startGtidSet);
    }
  }

  /** Whether a transaction is open (begun, not yet committed). */
  get inTransaction(): boolean {
    return this.pending?.begun ?? false;
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
        if (this.pending?.begun)
          throw this.error(event, `GTID ${event.gtid} inside the open transaction ${this.pending.gtid ?? '(anonymous)'}`);
        const gtid = event.flavour === 'mysql' ? (event.anonymous ? null : event.gtid) : event.gtid;
        this.pending = {
          gtid,
          commitUs: event.flavour === 'mysql' ? event.commitTimestampUs : null,
          standalone: event.flavour === 'mariadb' && event.standalone,
          begun: false,
        };
        if (event.flavour === 'mariadb' && !event.standalone) return [this.begin(event)];
        return [];
      }
      case 'query': {
        if (BEGIN.test(event.sql)) {
          if (this.pending?.begun) return [];
          return [this.begin(event)];
        }
        if (COMMIT.test(event.sql)) {
          if (!this.pending?.begun) throw this.error(event, `${event.sql.trim()} without an open transaction`);
          return [this.commit(event)];
        }
        if (this.pending?.begun && !this.pending.standalone) return [{ type: 'query', event }];
        const items: TransactionItem[] = [this.begin(event), { type: 'query', event }];
        items.push(this.commit(event));
        return items;
      }
      case 'xid':
        if (!this.pending?.begun) throw this.error(event, 'XID without an open transaction');
        return [this.commit(event)];
      case 'rows':
        if (!this.pending?.begun) throw this.error(event, `rows of ${event.table.database}.${event.table.table} outside a transaction`);
        return [{ type: 'rows', event }];
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

  private begin(event: BinlogEvent): TransactionItem {
    const p = this.pending ?? { gtid: null, commitUs: null, standalone: false, begun: false };
    p.begun = true;
    this.pending = p;
    return { type: 'begin', gtid: p.gtid, commitUs: p.commitUs, timestamp: event.timestamp, file: event.file, pos: event.pos };
  }

  private commit(event: BinlogEvent): TransactionItem {
    const p = this.pending!;
    this.pending = null;
    if (p.gtid !== null) {
      if (this.origin.flavour === 'mysql') this.mysqlSet?.add(p.gtid);
      else this.mariadbState?.add(p.gtid);
    }
    const checkpoint: Checkpoint = { ...this.origin, file: event.file, pos: event.nextPos, gtidSet: this.gtidSet };
    return { type: 'commit', gtid: p.gtid, commitUs: p.commitUs, checkpoint };
  }

  private error(event: BinlogEvent, message: string): BinlogError {
    return new BinlogError('BINLOG_DECODE', `transaction structure: ${message}`, event);
  }
}
