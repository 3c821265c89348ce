import { readFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';

/** A binlog captured from a real server (test/fixtures/binlog): its FORMAT_DESCRIPTION and events. */
export interface BinlogFixture {
  server: string;
  file: string;
  startPos: number;
  fde: Buffer;
  events: Buffer[];
}

/** Loads a captured binlog fixture by name. */
export function loadFixture(name: string): BinlogFixture {
  const raw = JSON.parse(readFileSync(path.join('test', 'fixtures', 'binlog', `${name}.json`), 'utf8')) as {
    server: string;
    file: string;
    startPos: number;
    fde: string;
    events: string[];
  };
  return { ...raw, fde: Buffer.from(raw.fde, 'hex'), events: raw.events.map((e) => Buffer.from(e, 'hex')) };
}

/** Every fixture name. */
export const FIXTURES = [
  'mysql80-compressed',
  'mysql97-compressed',
  'mysql80-partial-json',
  'mysql97-partial-json',
  'mysql80-partial-json-full',
  'mysql97-partial-json-full',
  'mysql97-tagged-gtid',
  'mariadb-compressed',
];

/** Builds one event: 19-byte header + body (+ CRC32). `nextPos` is where the event ends. */
export function event(
  type: number,
  body: Buffer,
  opts: { checksum?: boolean; nextPos?: number; serverId?: number; flags?: number } = {},
): Buffer {
  const size = 19 + body.length + (opts.checksum ? 4 : 0);
  const h = Buffer.alloc(19);
  h.writeUInt32LE(1_700_000_000, 0);
  h[4] = type;
  h.writeUInt32LE(opts.serverId ?? 1, 5);
  h.writeUInt32LE(size, 9);
  h.writeUInt32LE(opts.nextPos ?? 1000 + size, 13);
  h.writeUInt16LE(opts.flags ?? 0, 17);
  const ev = Buffer.concat([h, body]);
  if (!opts.checksum) return ev;
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(ev));
  return Buffer.concat([ev, crc]);
}

/** Recomputes the CRC32 of an event that carries one (after a test changed its bytes). */
export function reseal(ev: Buffer): Buffer {
  const out = Buffer.from(ev);
  out.writeUInt32LE(crc32(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}

/** The same event without its CRC32 (size field adjusted). */
export function stripChecksum(ev: Buffer): Buffer {
  const out = Buffer.from(ev.subarray(0, ev.length - 4));
  out.writeUInt32LE(out.length, 9);
  return out;
}

/** A FORMAT_DESCRIPTION turned to checksum NONE (algorithm byte 0). */
export function fdeWithoutChecksum(fde: Buffer): Buffer {
  const out = Buffer.from(fde);
  out[out.length - 5] = 0;
  return out;
}

/** MySQL's packed (length-encoded) integer. */
export function packed(n: number): Buffer {
  if (n < 0xfb) return Buffer.from([n]);
  if (n <= 0xffff) return Buffer.from([0xfc, n & 0xff, n >> 8]);
  if (n <= 0xffffff) return Buffer.from([0xfd, n & 0xff, (n >> 8) & 0xff, n >> 16]);
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b.writeBigUInt64LE(BigInt(n), 1);
  return b;
}

/** A zstd frame made of raw (stored) blocks: valid zstd any decoder accepts, no compressor needed. */
export function zstdRawFrame(data: Buffer, windowLog = 20): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (windowLog - 10) << 3])];
  const BLOCK = 128 * 1024;
  for (let at = 0; at < data.length || at === 0; at += BLOCK) {
    const chunk = data.subarray(at, at + BLOCK);
    const last = at + BLOCK >= data.length ? 1 : 0;
    const bh = (chunk.length << 3) | last;
    parts.push(Buffer.from([bh & 0xff, (bh >> 8) & 0xff, (bh >> 16) & 0xff]), chunk);
    if (data.length === 0) break;
  }
  return Buffer.concat(parts);
}

/** The body of a TRANSACTION_PAYLOAD holding `inner` events (compressed as raw zstd blocks unless `none`). */
export function payloadBody(
  inner: Buffer[],
  opts: { compression?: 'zstd' | 'none'; uncompressedSize?: number; windowLog?: number } = {},
): Buffer {
  const raw = Buffer.concat(inner);
  const none = opts.compression === 'none';
  const payload = none ? raw : zstdRawFrame(raw, opts.windowLog);
  const field = (type: number, value: number) => Buffer.concat([packed(type), packed(packed(value).length), packed(value)]);
  return Buffer.concat([
    field(2, none ? 255 : 0),
    none ? Buffer.alloc(0) : field(3, opts.uncompressedSize ?? raw.length),
    field(1, payload.length),
    Buffer.from([0]),
    payload,
  ]);
}

/** A MariaDB compressed block: header byte, big-endian length, zlib stream. */
export function mariadbBlock(data: Buffer, declared = data.length): Buffer {
  return Buffer.concat([
    Buffer.from([0x84, declared >>> 24, (declared >> 16) & 0xff, (declared >> 8) & 0xff, declared & 0xff]),
    deflateSync(data),
  ]);
}

/** An inner (checksum-less) event with log_pos 0, as MySQL stores them in a payload. */
export function innerEvent(type: number, body: Buffer): Buffer {
  return event(type, body, { nextPos: 0 });
}

/** A minimal QUERY body (post-header of 13 bytes, no status variables). */
export function queryBody(database: string, sql: string): Buffer {
  const post = Buffer.alloc(13);
  post.writeUInt32LE(7, 0);
  post[8] = Buffer.byteLength(database);
  return Buffer.concat([post, Buffer.from(database), Buffer.from([0]), Buffer.from(sql)]);
}

/** An XID body. */
export function xidBody(xid: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(xid);
  return b;
}

/** A TABLE_MAP body for columns of the given types and metadata. */
export function tableMapBody(
  tableId: number,
  db: string,
  table: string,
  types: number[],
  meta: Buffer,
  optional = Buffer.alloc(0),
): Buffer {
  const id = Buffer.alloc(6);
  id.writeUIntLE(tableId, 0, 6);
  return Buffer.concat([
    id,
    Buffer.from([1, 0]),
    Buffer.from([Buffer.byteLength(db)]),
    Buffer.from(db),
    Buffer.from([0, Buffer.byteLength(table)]),
    Buffer.from(table),
    Buffer.from([0]),
    packed(types.length),
    Buffer.from(types),
    packed(meta.length),
    meta,
    Buffer.alloc(Math.ceil(types.length / 8), 0xff),
    optional,
  ]);
}

/** A v2 rows body: table id, flags, extra data, width, bitmap(s), rows. */
export function rowsV2Body(tableId: number, width: number, rows: Buffer, update = false): Buffer {
  const id = Buffer.alloc(6);
  id.writeUIntLE(tableId, 0, 6);
  const bitmap = Buffer.alloc(Math.ceil(width / 8), 0xff);
  return Buffer.concat([id, Buffer.from([1, 0, 2, 0]), packed(width), bitmap, update ? bitmap : Buffer.alloc(0), rows]);
}
