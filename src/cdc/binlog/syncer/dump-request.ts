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

/** Parses `uuid:1-5:7,uuid2:3` into the binary GTID set COM_BINLOG_DUMP_GTID carries. @throws {GtidError} `GTID_INVALID` */
export function encodeGtidSet(set: string): Buffer {
  const parts = set
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const chunks: Buffer[] = [];
  const count = Buffer.alloc(8);
  count.writeBigUInt64LE(BigInt(parts.length));
  chunks.push(count);
  for (const part of parts) {
    const [uuid, ...ranges] = part.split(':');
    const hex = (uuid ?? '').replace(/-/g, '');
    if (!/^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/.test(uuid ?? ''))
      throw new GtidError(`not a GTID source uuid: "${(uuid ?? '').slice(0, 80)}"`);
    chunks.push(Buffer.from(hex, 'hex'));
    const n = Buffer.alloc(8);
    n.writeBigUInt64LE(BigInt(ranges.length));
    chunks.push(n);
    for (const range of ranges) {
      const [a, b] = range.split('-');
      const from = /^\d{1,19}$/.test(a ?? '') ? BigInt(a!) : 0n;
      const to = b === undefined ? from : /^\d{1,19}$/.test(b) ? BigInt(b) : 0n;
      if (from < 1n || to < from || to >= 1n << 63n)
        throw new GtidError(`not a GTID interval (1 … 2^63-1, or a tagged GTID this request cannot carry): "${range.slice(0, 80)}"`);
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
