/**
 * XA transaction ids of shardline's atomic writes (pure). A branch's xid is
 * `gtrid = shardline:<coordinator>:<begun ms, base 36>:<counter, base 36>`, `bqual = <instance
 * name>`, `formatID = 21324` ("SL"): the prefix and the format id tell `xa recover` the branch is
 * shardline's, the coordinator (host and pid) whose it is, and when it began.
 */

/** formatID of every shardline branch ('S' << 8 | 'L'). */
export const SHARDLINE_XA_FORMAT_ID = 0x534c;

const GTRID_PREFIX = 'shardline';
/** What a gtrid or bqual may hold: safe inside a quoted literal under every sql_mode. */
const SAFE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The parts of a shardline gtrid. */
export interface ShardlineGtrid {
  /** `<host>-<pid>` of the process that ran the write. */
  coordinator: string;
  /** When the write began (ms since the epoch). */
  begunAtMs: number;
  counter: number;
}

/** One XA branch id. */
export interface Xid {
  gtrid: string;
  bqual: string;
  formatId: number;
}

/** `<host>-<pid>`: the host name cut to its safe characters (at most 24) and the process id. */
export function coordinatorId(host: string, pid: number): string {
  const h = host.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 24) || 'host';
  return `${h}-${pid}`;
}

/** The gtrid text of a write. @throws {Error} when it would not be a safe id (programming error). */
export function formatGtrid(g: ShardlineGtrid): string {
  const text = `${GTRID_PREFIX}:${g.coordinator}:${g.begunAtMs.toString(36)}:${g.counter.toString(36)}`;
  if (!SAFE.test(text)) throw new Error(`not a valid shardline gtrid: ${text}`);
  return text;
}

/** The parts of a shardline gtrid, or null for any other gtrid. */
export function parseGtrid(text: string): ShardlineGtrid | null {
  const m = /^shardline:([A-Za-z0-9_.-]+-\d+):([0-9a-z]+):([0-9a-z]+)$/.exec(text);
  if (!m || !SAFE.test(text)) return null;
  return { coordinator: m[1]!, begunAtMs: parseInt(m[2]!, 36), counter: parseInt(m[3]!, 36) };
}

/** The xid of the branch of write `gtrid` on `instance`. */
export function branchXid(gtrid: string, instance: string): Xid {
  if (!SAFE.test(gtrid) || !SAFE.test(instance)) throw new Error(`not a valid xid: ${gtrid}, ${instance}`);
  return { gtrid, bqual: instance, formatId: SHARDLINE_XA_FORMAT_ID };
}

/**
 * The xid as SQL (`'gtrid','bqual',21324`) for XA START/END/PREPARE/COMMIT/ROLLBACK. Only ids of
 * safe characters are written as quoted literals; any other (a foreign branch) as hex literals.
 */
export function xidSql(xid: Xid): string {
  const lit = (s: string) => (SAFE.test(s) ? `'${s}'` : `X'${Buffer.from(s, 'latin1').toString('hex')}'`);
  return `${lit(xid.gtrid)},${lit(xid.bqual)},${Math.trunc(xid.formatId)}`;
}

/** A row of plain `XA RECOVER` (MySQL and MariaDB both: formatID, gtrid_length, bqual_length, data). */
export interface XaRecoverRow {
  formatID: unknown;
  gtrid_length: unknown;
  bqual_length: unknown;
  data: unknown;
}

/** The xid of an `XA RECOVER` row (data is gtrid then bqual, as bytes or text). */
export function xidOfRecoverRow(row: XaRecoverRow): Xid {
  const data = Buffer.isBuffer(row.data) ? row.data.toString('latin1') : String(row.data);
  const g = Number(row.gtrid_length);
  const b = Number(row.bqual_length);
  return { gtrid: data.slice(0, g), bqual: data.slice(g, g + b), formatId: Number(row.formatID) };
}

/** Whether a branch is one of shardline's (format id and gtrid). */
export function isShardlineXid(xid: Xid): boolean {
  return xid.formatId === SHARDLINE_XA_FORMAT_ID && parseGtrid(xid.gtrid) !== null;
}
