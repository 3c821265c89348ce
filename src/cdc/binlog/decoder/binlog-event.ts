import type { RowChange } from './rows.js';
import type { TableMap } from './table-map.js';
import type { XaXid } from './xa-xid.js';

/** Fields of the 19-byte common header, plus where the event starts. */
export interface EventHeader {
  timestamp: number;
  eventType: number;
  serverId: number;
  eventSize: number;
  /** Position right after this event (the next event's position). */
  nextPos: number;
  flags: number;
  /** The binlog file the event belongs to. */
  file: string;
  /** Where the event starts in that file. */
  pos: number;
}

/** A decoded event. */
export type BinlogEvent = EventHeader &
  (
    | { kind: 'format-description'; binlogVersion: number; serverVersion: string; checksum: 'crc32' | 'none' }
    | { kind: 'rotate'; nextFile: string; position: number; artificial: boolean }
    | { kind: 'query'; database: string; sql: string; threadId: number; executionTime: number; errorCode: number }
    | { kind: 'xid'; xid: bigint }
    /** XA_PREPARE_LOG_EVENT: ends an XA branch at XA PREPARE, or at `XA COMMIT … ONE PHASE` (onePhase). */
    | { kind: 'xa-prepare'; onePhase: boolean; xid: XaXid }
    | {
        kind: 'gtid';
        flavour: 'mysql';
        /** `uuid:gno`, or `uuid:tag:gno` for a tagged GTID (GTID_TAGGED, MySQL 8.4+). */
        gtid: string;
        sourceUuid: string;
        tag: string | null;
        gno: bigint;
        commitTimestampUs: bigint | null;
        anonymous: boolean;
      }
    | {
        kind: 'gtid';
        flavour: 'mariadb';
        gtid: string;
        domainId: number;
        serverId: number;
        sequence: bigint;
        standalone: boolean;
        /**
         * MariaDB 10.5+ XA: `prepared` (FL_PREPARED_XA — the transaction is an XA branch ending in
         * XA_PREPARE) or `completed` (FL_COMPLETED_XA — its XA COMMIT / XA ROLLBACK), with the xid.
         */
        xa?: { phase: 'prepared' | 'completed'; xid: XaXid };
      }
    | { kind: 'previous-gtids'; gtidSet: string }
    | { kind: 'gtid-list'; gtids: string[] }
    | { kind: 'binlog-checkpoint'; checkpointFile: string }
    | { kind: 'annotate-rows'; sql: string }
    | { kind: 'table-map'; map: TableMap }
    | {
        kind: 'rows';
        op: 'c' | 'u' | 'd';
        table: TableMap;
        rows: RowChange[];
        /** Rows of a table the decoder was told not to decode (none are given). */ filtered?: boolean;
      }
    | { kind: 'heartbeat'; logFile: string }
    /** What {@link BinlogDecoder.decode} returns for a TRANSACTION_PAYLOAD; `decodeAll` yields its inner events instead. */
    | { kind: 'transaction-payload'; compression: 'zstd' | 'none'; payloadSize: number; uncompressedSize: number }
    | { kind: 'ignored'; name: string }
  );
