import { GtidError } from '../../../errors/index.js';

/** COM_BINLOG_DUMP: stream from a file and position (MySQL and MariaDB). */
export function binlogDumpRequest(file: string, pos: number, serverId: number, nonBlocking = false): Buffer {
  const name = Buffer.from(file, 'utf8');
  const b = Buffer.alloc(11 + name.length);
  b[0] = 0x12;
  b.writeUInt32LE(pos, 1);
  b.writeUInt16LE(nonBlocking ? 1 : 0, 5);
  b.writeUInt32LE(serverId, 7);
  name.copy(b, 11);
  return b;
}

const TAG = /^[a-zA-Z_][a-zA-Z0-9_]{0,31}$/;

/**
 * Parses `uuid:1-5:7,uuid2:3` — with MySQL 8.4+ tags, `uuid:1-5:tag:1-3` — into the binary GTID
 * set COM_BINLOG_DUMP_GTID carries. Without a tag: an 8-byte source count, then per uuid its
 * intervals. With one (Gtid_set::encode's tagged format, as PREVIOUS_GTIDS is written): byte 0
 * and byte 7 of the header are 1 and the count of (uuid, tag) entries is in bytes 1–6; each
 * entry carries its tag (one-byte varlen length, bytes) after the uuid.
 * @throws {GtidError} `GTID_INVALID`
 */
export function encodeGtidSet(set: string): Buffer {
  const parts = set
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const entries: { uuid: Buffer; tag: string; ranges: [bigint, bigint][] }[] = [];
  for (const part of parts) {
    const [uuid, ...tokens] = part.split(':');
    if (!/^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/.test(uuid ?? ''))
      throw new GtidError(`not a GTID source uuid: "${(uuid ?? '').slice(0, 80)}"`);
    const sid = Buffer.from(uuid!.replace(/-/g, ''), 'hex');
    let entry = { uuid: sid, tag: '', ranges: [] as [bigint, bigint][] };
    entries.push(entry);
    for (const token of tokens) {
      if (!/^\d/.test(token)) {
        if (!TAG.test(token))
          throw new GtidError(`not a GTID tag (a letter or _, then up to 31 letters, digits or _): "${token.slice(0, 80)}"`);
        entry = { uuid: sid, tag: token.toLowerCase(), ranges: [] };
        entries.push(entry);
        continue;
      }
      const [a, b] = token.split('-');
      const from = /^\d{1,19}$/.test(a ?? '') ? BigInt(a!) : 0n;
      const to = b === undefined ? from : /^\d{1,19}$/.test(b) ? BigInt(b) : 0n;
      if (from < 1n || to < from || to >= 1n << 63n) throw new GtidError(`not a GTID interval (1 … 2^63-1): "${token.slice(0, 80)}"`);
      entry.ranges.push([from, to]);
    }
  }
  const kept = entries.filter((e) => e.ranges.length > 0);
  const tagged = kept.some((e) => e.tag !== '');
  const head = Buffer.alloc(8);
  if (tagged) {
    head.writeUIntLE(kept.length, 1, 6);
    head[0] = 1;
    head[7] = 1;
  } else head.writeBigUInt64LE(BigInt(kept.length));
  const chunks: Buffer[] = [head];
  for (const e of kept) {
    chunks.push(e.uuid);
    if (tagged) chunks.push(Buffer.from([e.tag.length << 1]), Buffer.from(e.tag, 'latin1'));
    const n = Buffer.alloc(8);
    n.writeBigUInt64LE(BigInt(e.ranges.length));
    chunks.push(n);
    for (const [from, to] of e.ranges) {
      const iv = Buffer.alloc(16);
      iv.writeBigUInt64LE(from);
      iv.writeBigUInt64LE(to + 1n, 8);
      chunks.push(iv);
    }
  }
  return Buffer.concat(chunks);
}

/** COM_BINLOG_DUMP_GTID (MySQL): stream everything not in `gtidSet`. */
export function binlogDumpGtidRequest(gtidSet: string, serverId: number): Buffer {
  const data = encodeGtidSet(gtidSet);
  const b = Buffer.alloc(1 + 2 + 4 + 4 + 0 + 8 + 4 + data.length);
  let o = 0;
  b[o++] = 0x1e;
  b.writeUInt16LE(0x04, o);
  o += 2;
  b.writeUInt32LE(serverId, o);
  o += 4;
  b.writeUInt32LE(0, o);
  o += 4;
  b.writeBigUInt64LE(4n, o);
  o += 8;
  b.writeUInt32LE(data.length, o);
  o += 4;
  data.copy(b, o);
  return b;
}
