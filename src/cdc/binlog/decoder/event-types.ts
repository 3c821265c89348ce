/** Binlog event type codes (MySQL and MariaDB). */
export const EventType = {
  START_V3: 1,
  QUERY: 2,
  STOP: 3,
  ROTATE: 4,
  INTVAR: 5,
  SLAVE: 7,
  APPEND_BLOCK: 9,
  DELETE_FILE: 11,
  RAND: 13,
  USER_VAR: 14,
  FORMAT_DESCRIPTION: 15,
  XID: 16,
  BEGIN_LOAD_QUERY: 17,
  EXECUTE_LOAD_QUERY: 18,
  TABLE_MAP: 19,
  WRITE_ROWS_V1: 23,
  UPDATE_ROWS_V1: 24,
  DELETE_ROWS_V1: 25,
  INCIDENT: 26,
  HEARTBEAT: 27,
  IGNORABLE: 28,
  ROWS_QUERY: 29,
  WRITE_ROWS_V2: 30,
  UPDATE_ROWS_V2: 31,
  DELETE_ROWS_V2: 32,
  GTID: 33,
  ANONYMOUS_GTID: 34,
  PREVIOUS_GTIDS: 35,
  TRANSACTION_CONTEXT: 36,
  VIEW_CHANGE: 37,
  XA_PREPARE: 38,
  PARTIAL_UPDATE_ROWS: 39,
  TRANSACTION_PAYLOAD: 40,
  HEARTBEAT_V2: 41,
  GTID_TAGGED: 42,
  MARIADB_ANNOTATE_ROWS: 160,
  MARIADB_BINLOG_CHECKPOINT: 161,
  MARIADB_GTID: 162,
  MARIADB_GTID_LIST: 163,
  MARIADB_START_ENCRYPTION: 164,
  MARIADB_QUERY_COMPRESSED: 165,
  MARIADB_WRITE_ROWS_COMPRESSED_V1: 166,
  MARIADB_UPDATE_ROWS_COMPRESSED_V1: 167,
  MARIADB_DELETE_ROWS_COMPRESSED_V1: 168,
  MARIADB_WRITE_ROWS_COMPRESSED: 169,
  MARIADB_UPDATE_ROWS_COMPRESSED: 170,
  MARIADB_DELETE_ROWS_COMPRESSED: 171,
} as const;

/** Events that carry nothing for CDC; listed so that skipping them is a decision, not an accident. */
export const IGNORED_EVENTS: ReadonlySet<number> = new Set([
  EventType.STOP,
  EventType.INTVAR,
  EventType.RAND,
  EventType.USER_VAR,
  EventType.IGNORABLE,
  EventType.ROWS_QUERY,
  EventType.TRANSACTION_CONTEXT,
  EventType.VIEW_CHANGE,
  EventType.SLAVE,
  EventType.APPEND_BLOCK,
  EventType.DELETE_FILE,
  EventType.BEGIN_LOAD_QUERY,
  EventType.EXECUTE_LOAD_QUERY,
  EventType.START_V3,
]);

const NAMES = new Map<number, string>(Object.entries(EventType).map(([k, v]) => [v, k]));

/** The name of an event type code, for messages. */
export function eventTypeName(type: number): string {
  return NAMES.get(type) ?? `UNKNOWN_${type}`;
}

/** LOG_EVENT_ARTIFICIAL_F: the server made this event up (the rotate at the start of a dump). */
export const ARTIFICIAL_FLAG = 0x20;
