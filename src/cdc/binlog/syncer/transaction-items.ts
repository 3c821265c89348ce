import type { Checkpoint } from '../../checkpoint/checkpoint.js';
import type { BinlogEvent } from '../decoder/binlog-event.js';

/** A rows event. */
export type RowsEvent = Extract<BinlogEvent, { kind: 'rows' }>;
/** A QUERY event. */
export type QueryEvent = Extract<BinlogEvent, { kind: 'query' }>;

/** What a transaction stream hands out: explicit boundaries, rows streamed in between. */
export type TransactionItem =
  | {
      type: 'begin';
      /** MySQL `uuid:n` / MariaDB `domain-server-seq`; null for anonymous MySQL transactions. */
      gtid: string | null;
      /** Commit time in µs where the server records it (MySQL immediate_commit_timestamp), else null. */
      commitUs: bigint | null;
      /** Binlog timestamp of the transaction's first event (seconds). */
      timestamp: number;
      file: string;
      pos: number;
    }
  | { type: 'rows'; event: RowsEvent }
  /** A statement inside the transaction: DDL (its own transaction) or a non-row statement. */
  | { type: 'query'; event: QueryEvent }
  | {
      type: 'commit';
      gtid: string | null;
      commitUs: bigint | null;
      /** Store this after the transaction's effects are durable; resume from it. */
      checkpoint: Checkpoint;
    }
  /**
   * The open transaction will not complete on this connection (it dropped); discard what was
   * handed out since its `begin`. It is read again, in full, after the reconnect.
   */
  | { type: 'abort'; reason: string };
