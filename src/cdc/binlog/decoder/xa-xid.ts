import { ByteReader } from './byte-reader.js';

/**
 * An XA transaction id as the binlog carries it (XA_PREPARE_LOG_EVENT, MariaDB's XA GTID events,
 * and the `X'…',X'…',n` text of XA statements).
 */
export interface XaXid {
  formatId: number;
  gtrid: Buffer;
  bqual: Buffer;
}

/** One text key per xid (`formatID:gtrid-hex:bqual-hex`), equal for every form the binlog writes it in. */
export function xaXidKey(xid: XaXid): string {
  return `${xid.formatId}:${xid.gtrid.toString('hex')}:${xid.bqual.toString('hex')}`;
}

/**
 * The body of an XA_PREPARE_LOG_EVENT (type 38, MySQL and MariaDB): one_phase (1 byte), formatID
 * (4), gtrid length (4), bqual length (4), then gtrid and bqual.
 */
export function parseXaPrepareBody(body: Buffer): { onePhase: boolean; xid: XaXid } {
  const r = new ByteReader(body);
  const onePhase = r.u8() !== 0;
  const formatId = r.u32();
  const gtridLength = r.u32();
  const bqualLength = r.u32();
  if (gtridLength > 64 || bqualLength > 64) throw new RangeError(`XA xid lengths ${gtridLength}/${bqualLength} exceed 64`);
  const gtrid = Buffer.from(r.bytes(gtridLength));
  const bqual = Buffer.from(r.bytes(bqualLength));
  return { onePhase, xid: { formatId, gtrid, bqual } };
}

/** Which XA statement a QUERY event holds, and for which xid. */
export interface XaStatement {
  verb: 'start' | 'end' | 'prepare' | 'commit' | 'rollback';
  xid: XaXid;
  onePhase: boolean;
}

const XA = /^\s*XA\s+(START|BEGIN|END|PREPARE|COMMIT|ROLLBACK)\s+(.*?)\s*$/is;
const PART = /^\s*(?:X'([0-9a-f]*)'|'((?:[^'\\]|\\.|'')*)'|0x([0-9a-f]+)|(\d+))\s*/i;

function part(text: string): { value: Buffer | number; rest: string } | null {
  const m = PART.exec(text);
  if (!m) return null;
  const rest = text.slice(m[0].length);
  if (m[1] !== undefined) return { value: Buffer.from(m[1], 'hex'), rest };
  if (m[2] !== undefined) return { value: Buffer.from(m[2].replace(/''/g, "'").replace(/\\(.)/g, '$1'), 'utf8'), rest };
  if (m[3] !== undefined) return { value: Buffer.from(m[3].length % 2 ? `0${m[3]}` : m[3], 'hex'), rest };
  return { value: Number(m[4]), rest };
}

/**
 * Parses an XA statement as servers log it (`XA COMMIT X'…',X'…',21324`, also the quoted forms);
 * null when the text is no XA statement. Throws a RangeError on an XA statement whose xid it
 * cannot read (never guessed).
 */
export function parseXaStatement(sql: string): XaStatement | null {
  const m = XA.exec(sql);
  if (!m) return null;
  const verb = m[1]!.toUpperCase();
  let rest = m[2]!;
  let onePhase = false;
  const tail = /\s+(ONE\s+PHASE|SUSPEND(\s+FOR\s+MIGRATE)?|FOR\s+MIGRATE|JOIN|RESUME)\s*$/i.exec(rest);
  if (tail) {
    onePhase = /^ONE/i.test(tail[1]!);
    rest = rest.slice(0, tail.index);
  }
  const parts: Array<Buffer | number> = [];
  while (rest.length > 0) {
    const p = part(rest);
    if (!p) throw new RangeError(`cannot read the xid of "${sql.slice(0, 200)}"`);
    parts.push(p.value);
    rest = p.rest.replace(/^,\s*/, '');
    if (parts.length > 3) throw new RangeError(`cannot read the xid of "${sql.slice(0, 200)}"`);
  }
  const [gtrid, bqual, formatId] = parts;
  if (
    !Buffer.isBuffer(gtrid) ||
    (bqual !== undefined && !Buffer.isBuffer(bqual)) ||
    (formatId !== undefined && typeof formatId !== 'number')
  )
    throw new RangeError(`cannot read the xid of "${sql.slice(0, 200)}"`);
  const v = verb === 'BEGIN' ? 'start' : (verb.toLowerCase() as XaStatement['verb']);
  return { verb: v, xid: { gtrid, bqual: bqual ?? Buffer.alloc(0), formatId: formatId ?? 1 }, onePhase };
}
