import { crc32 } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import { BinlogError } from '../../../errors/index.js';
import { ByteReader, TruncatedError } from './byte-reader.js';
import type { BinlogEvent, EventHeader } from './binlog-event.js';
import type { ServerFlavour } from './column-types.js';
import { ARTIFICIAL_FLAG, EventType, IGNORED_EVENTS, eventTypeName } from './event-types.js';
import { parseTaggedGtid } from './gtid-tagged.js';
import { inflateMariadbBlock, inflateRowsBody, isCompressedRows, uncompressedRowsType } from './mariadb-compressed.js';
import { compileTable, decodeRows, readRowsLayout, rowsTableId, type CompiledTable } from './rows.js';
import { parseTableMap } from './table-map.js';
import { parsePayloadHeader, payloadEvents } from './transaction-payload.js';
import { parseXaPrepareBody, type XaXid } from './xa-xid.js';

const HEADER = 19;

function uuidText(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The event of header `h` (made for this one event) and `body`: the body's fields are written
 * into the header. Not `{ ...h, ...fields }`: Node 20's V8 takes microseconds to add properties
 * after an object spread (v8:11536), and the decoder makes one of these per event.
 */
function withBody<B extends object>(h: EventHeader, body: B): EventHeader & B {
  return Object.assign(h, body);
}

/** MariaDB GTID flags2: FL_GROUP_COMMIT_ID (8-byte commit id follows), FL_PREPARED_XA, FL_COMPLETED_XA. */
const FL_GROUP_COMMIT_ID = 2;
const FL_PREPARED_XA = 64;
const FL_COMPLETED_XA = 128;

/**
 * The XA part of a MariaDB GTID event body after its flags byte: the commit id when flagged,
 * then formatID (4 bytes), gtrid and bqual lengths (1 byte each) and the two.
 */
function mariadbGtidXa(r: ByteReader, flags: number): { phase: 'prepared' | 'completed'; xid: XaXid } | null {
  if ((flags & (FL_PREPARED_XA | FL_COMPLETED_XA)) === 0) return null;
  if ((flags & FL_GROUP_COMMIT_ID) !== 0) r.u64();
  const formatId = r.u32();
  const gtridLength = r.u8();
  const bqualLength = r.u8();
  const gtrid = Buffer.from(r.bytes(gtridLength));
  const bqual = Buffer.from(r.bytes(bqualLength));
  return { phase: (flags & FL_PREPARED_XA) !== 0 ? 'prepared' : 'completed', xid: { formatId, gtrid, bqual } };
}

/** Where decoding starts: the file and whether events carry a CRC32 before the first FORMAT_DESCRIPTION. */
export interface DecoderStart {
  file: string;
  checksum: 'crc32' | 'none';
  /**
   * Which tables' rows to decode. Rows events of other tables come out as `rows` events with
   * `filtered: true` and no rows: their values are never read (nor can they fail to decode).
   */
  includeTable?: (database: string, table: string) => boolean;
  /** The server family until a FORMAT_DESCRIPTION names it (default: mysql). */
  flavour?: ServerFlavour;
}

/** Compiled TABLE_MAPs a decoder keeps (a 256-shard instance with eight tables maps 2,048). */
export const COMPILED_TABLES_MAX = 8192;
/**
 * And their TABLE_MAP bytes at most (a TABLE_MAP of a wide table with ENUM labels in its metadata
 * can take tens of KB; 8,192 of those must not pin hundreds of MB).
 */
export const COMPILED_TABLES_MAX_BYTES = 16 * 1024 * 1024;

/**
 * The binlog decoder: pure, Buffer → typed event, no I/O. It keeps what decoding needs across
 * events: the checksum algorithm and post-header lengths of the current FORMAT_DESCRIPTION, the
 * current file, and the TABLE_MAPs by table id (per file: ids are not stable across files).
 * Unknown event types and undecodable events are a {@link BinlogError} naming file and position;
 * nothing is skipped silently.
 */
export class BinlogDecoder {
  private file: string;
  private checksum: 'crc32' | 'none';
  private postHeader: number[] = [];
  /** From the FORMAT_DESCRIPTION's server version: TABLE_MAP charset metadata depends on it. */
  private flavour: ServerFlavour;
  private readonly tables = new Map<number, CompiledTable>();
  /**
   * TABLE_MAPs already compiled, by their body's bytes (table id included): a sharded workload
   * maps the same few hundred tables again in every small transaction, and parsing and compiling
   * each one again cost more than decoding its rows. Cleared by a FORMAT_DESCRIPTION (the bytes'
   * meaning depends on it); at most {@link COMPILED_TABLES_MAX} of them and
   * {@link COMPILED_TABLES_MAX_BYTES} of their bytes, the least recently used dropped first.
   */
  private readonly compiled = new LRUCache<string, CompiledTable>({
    max: COMPILED_TABLES_MAX,
    maxSize: COMPILED_TABLES_MAX_BYTES,
    sizeCalculation: (_table, key) => Math.max(1, key.length),
  });

  private readonly includeTable: ((database: string, table: string) => boolean) | undefined;

  constructor(start: DecoderStart) {
    this.file = start.file;
    this.checksum = start.checksum;
    this.includeTable = start.includeTable;
    this.flavour = start.flavour ?? 'mysql';
  }

  get currentFile(): string {
    return this.file;
  }

  private postHeaderLength(type: number, fallback: number): number {
    return this.postHeader[type - 1] ?? fallback;
  }

  /**
   * Decodes one event off the wire into the events it carries: one for most events, the inner
   * events of a TRANSACTION_PAYLOAD, lazily, one at a time. Inner events carry the payload
   * event's file, pos and nextPos, so a checkpoint after the inner XID points after the payload.
   */
  *decodeAll(event: Buffer): Generator<BinlogEvent> {
    if (event.length < HEADER || event[4] !== EventType.TRANSACTION_PAYLOAD) {
      yield this.decode(event);
      return;
    }
    const outer = this.decode(event);
    if (outer.kind !== 'transaction-payload') throw new BinlogError('BINLOG_DECODE', 'TRANSACTION_PAYLOAD did not decode as one', outer);
    const body = event.subarray(HEADER, this.checksum === 'crc32' ? event.length - 4 : event.length);
    const inner = this.guard(outer, EventType.TRANSACTION_PAYLOAD, () => payloadEvents(parsePayloadHeader(body)));
    for (;;) {
      const next = this.guard(outer, EventType.TRANSACTION_PAYLOAD, () => inner.next());
      if (next.done) return;
      yield this.decodeEvent(next.value, outer);
    }
  }

  /** Runs a step of decoding; any failure becomes a BINLOG_DECODE naming the event. */
  private guard<T>(at: EventHeader, type: number, step: () => T): T {
    try {
      return step();
    } catch (err) {
      if (err instanceof BinlogError) throw err;
      const why = err instanceof Error ? err.message : String(err);
      throw new BinlogError('BINLOG_DECODE', `cannot decode ${eventTypeName(type)}: ${why}`, at, { cause: err });
    }
  }

  /** Decodes one event (the bytes after the replication packet's 0x00 status byte). */
  decode(event: Buffer): BinlogEvent {
    return this.decodeEvent(event, null);
  }

  /**
   * Decodes one event; `outer` is the TRANSACTION_PAYLOAD an inner event came in (inner events
   * have no checksum and take the payload's position).
   */
  private decodeEvent(event: Buffer, outer: EventHeader | null): BinlogEvent {
    if (event.length < HEADER)
      throw new BinlogError(
        'BINLOG_DECODE',
        `event of ${event.length} bytes is shorter than its header`,
        outer ?? { file: this.file, pos: 0 },
      );
    const eventSize = event.readUInt32LE(9);
    const nextPos = outer ? outer.nextPos : event.readUInt32LE(13);
    const header: EventHeader = {
      timestamp: event.readUInt32LE(0),
      eventType: event[4]!,
      serverId: event.readUInt32LE(5),
      eventSize,
      nextPos,
      flags: event.readUInt16LE(17),
      file: this.file,
      pos: outer ? outer.pos : nextPos >= eventSize ? nextPos - eventSize : 0,
    };
    if (eventSize !== event.length) {
      throw new BinlogError('BINLOG_DECODE', `event header says ${eventSize} bytes but ${event.length} arrived`, header);
    }
    const type = header.eventType;
    if (outer && (type === EventType.FORMAT_DESCRIPTION || type === EventType.ROTATE || type === EventType.TRANSACTION_PAYLOAD)) {
      throw new BinlogError('BINLOG_DECODE', `${eventTypeName(type)} inside a TRANSACTION_PAYLOAD`, header);
    }
    let end = event.length;
    const isFde = type === EventType.FORMAT_DESCRIPTION;
    if (!isFde && !outer && this.checksum === 'crc32') {
      if (end < HEADER + 4) throw new BinlogError('BINLOG_DECODE', 'event too short for its checksum', header);
      end -= 4;
      const expected = event.readUInt32LE(end);
      const actual = crc32(event.subarray(0, end));
      if (expected !== actual) {
        throw new BinlogError(
          'BINLOG_CHECKSUM',
          `CRC32 mismatch in ${eventTypeName(type)}: stored ${expected.toString(16)}, computed ${actual.toString(16)}`,
          header,
        );
      }
    }
    const body = event.subarray(HEADER, end);
    return this.guard(header, type, () => this.decodeBody(header, type, body, event));
  }

  private decodeBody(h: EventHeader, type: number, body: Buffer, event: Buffer): BinlogEvent {
    switch (type) {
      case EventType.FORMAT_DESCRIPTION:
        return this.formatDescription(h, event);
      case EventType.ROTATE: {
        const r = new ByteReader(body);
        const position = Number(r.u64());
        const nextFile = r.rest().toString('utf8');
        const artificial = (h.flags & ARTIFICIAL_FLAG) !== 0 || h.nextPos === 0;
        this.file = nextFile;
        this.tables.clear();
        return withBody(h, { kind: 'rotate', nextFile, position, artificial });
      }
      case EventType.QUERY:
        return this.query(h, body, false);
      case EventType.MARIADB_QUERY_COMPRESSED:
        return this.query(h, body, true);
      case EventType.XID:
        return withBody(h, { kind: 'xid', xid: new ByteReader(body).u64() });
      case EventType.XA_PREPARE:
        return withBody(h, { kind: 'xa-prepare', ...parseXaPrepareBody(body) });
      case EventType.GTID:
      case EventType.ANONYMOUS_GTID:
        return this.mysqlGtid(h, body, type === EventType.ANONYMOUS_GTID);
      case EventType.GTID_TAGGED: {
        const g = parseTaggedGtid(body);
        const sourceUuid = uuidText(g.uuid);
        return withBody(h, {
          kind: 'gtid',
          flavour: 'mysql',
          gtid: `${sourceUuid}:${g.tag}:${g.gno}`,
          sourceUuid,
          tag: g.tag,
          gno: g.gno,
          commitTimestampUs: g.originalCommitTimestampUs,
          anonymous: false,
        });
      }
      case EventType.TRANSACTION_PAYLOAD: {
        const p = parsePayloadHeader(body);
        return withBody(h, {
          kind: 'transaction-payload',
          compression: p.compression === 0 ? 'zstd' : 'none',
          payloadSize: p.payloadSize,
          uncompressedSize: p.uncompressedSize,
        });
      }
      case EventType.PREVIOUS_GTIDS:
        return withBody(h, { kind: 'previous-gtids', gtidSet: this.gtidSet(body) });
      case EventType.MARIADB_GTID: {
        const r = new ByteReader(body);
        const sequence = r.u64();
        const domainId = r.u32();
        const flags = r.u8();
        const xa = mariadbGtidXa(r, flags);
        return withBody(h, {
          kind: 'gtid',
          flavour: 'mariadb',
          gtid: `${domainId}-${h.serverId}-${sequence}`,
          domainId,
          serverId: h.serverId,
          sequence,
          standalone: (flags & 1) !== 0,
          ...(xa ? { xa } : {}),
        });
      }
      case EventType.MARIADB_GTID_LIST: {
        const r = new ByteReader(body);
        const count = r.u32() & 0x0fffffff;
        const gtids: string[] = [];
        for (let i = 0; i < count; i++) {
          const domain = r.u32();
          const server = r.u32();
          gtids.push(`${domain}-${server}-${r.u64()}`);
        }
        return withBody(h, { kind: 'gtid-list', gtids });
      }
      case EventType.MARIADB_BINLOG_CHECKPOINT: {
        const r = new ByteReader(body);
        const len = r.u32();
        return withBody(h, { kind: 'binlog-checkpoint', checkpointFile: r.bytes(len).toString('utf8') });
      }
      case EventType.MARIADB_ANNOTATE_ROWS:
        return withBody(h, { kind: 'annotate-rows', sql: body.toString('utf8') });
      case EventType.TABLE_MAP: {
        const table = this.compiledTable(body, type);
        this.tables.set(table.map.tableId, table);
        return withBody(h, { kind: 'table-map', map: table.map });
      }
      case EventType.WRITE_ROWS_V1:
      case EventType.UPDATE_ROWS_V1:
      case EventType.DELETE_ROWS_V1:
      case EventType.WRITE_ROWS_V2:
      case EventType.UPDATE_ROWS_V2:
      case EventType.DELETE_ROWS_V2:
      case EventType.PARTIAL_UPDATE_ROWS:
      case EventType.MARIADB_WRITE_ROWS_COMPRESSED_V1:
      case EventType.MARIADB_UPDATE_ROWS_COMPRESSED_V1:
      case EventType.MARIADB_DELETE_ROWS_COMPRESSED_V1:
      case EventType.MARIADB_WRITE_ROWS_COMPRESSED:
      case EventType.MARIADB_UPDATE_ROWS_COMPRESSED:
      case EventType.MARIADB_DELETE_ROWS_COMPRESSED:
        return this.rows(h, type, body);
      case EventType.HEARTBEAT:
        return withBody(h, { kind: 'heartbeat', logFile: body.toString('utf8') });
      case EventType.HEARTBEAT_V2:
        return withBody(h, { kind: 'heartbeat', logFile: this.file });
      default:
        if (IGNORED_EVENTS.has(type)) return withBody(h, { kind: 'ignored', name: eventTypeName(type) });
        throw new BinlogError(
          'BINLOG_UNKNOWN_EVENT',
          `event type ${type} (${eventTypeName(type)}) is not supported; refusing to skip it`,
          h,
          {
            details: { eventType: type },
          },
        );
    }
  }

  private formatDescription(h: EventHeader, event: Buffer): BinlogEvent {
    const r = new ByteReader(event, HEADER);
    const binlogVersion = r.u16();
    const serverVersion = r.bytes(50).toString('latin1').replace(/\0.*$/s, '');
    r.u32();
    const headerLength = r.u8();
    if (headerLength !== HEADER) throw new TruncatedError(`common header length ${headerLength}, expected 19`);
    const alg = event[event.length - 5]!;
    if (alg !== 0 && alg !== 1) throw new TruncatedError(`checksum algorithm ${alg} is not supported`);
    this.checksum = alg === 1 ? 'crc32' : 'none';
    if (this.checksum === 'crc32') {
      const expected = event.readUInt32LE(event.length - 4);
      const actual = crc32(event.subarray(0, event.length - 4));
      if (expected !== actual) throw new BinlogError('BINLOG_CHECKSUM', 'CRC32 mismatch in FORMAT_DESCRIPTION', h);
    }
    this.postHeader = [...event.subarray(r.pos, event.length - 5)];
    this.flavour = /mariadb/i.test(serverVersion) ? 'mariadb' : 'mysql';
    this.tables.clear();
    this.compiled.clear();
    return withBody(h, { kind: 'format-description', binlogVersion, serverVersion, checksum: this.checksum });
  }

  /** The TABLE_MAP of `body`, parsed and compiled once per distinct body. The result is shared: never mutated. */
  private compiledTable(body: Buffer, type: number): CompiledTable {
    const key = body.toString('latin1');
    let table = this.compiled.get(key);
    if (table === undefined) {
      table = compileTable(parseTableMap(body, this.postHeaderLength(type, 8), this.flavour));
      this.compiled.set(key, table);
    }
    return table;
  }

  private query(h: EventHeader, body: Buffer, compressed: boolean): BinlogEvent {
    const r = new ByteReader(body);
    const threadId = r.u32();
    const executionTime = r.u32();
    const dbLen = r.u8();
    const errorCode = r.u16();
    const statusLen = r.u16();
    const extra = this.postHeaderLength(compressed ? EventType.MARIADB_QUERY_COMPRESSED : EventType.QUERY, 13) - 13;
    if (extra > 0) r.skip(extra);
    r.skip(statusLen);
    const database = r.bytes(dbLen).toString('utf8');
    r.skip(1);
    const text = compressed ? inflateMariadbBlock(r.rest()) : r.rest();
    return withBody(h, { kind: 'query', database, sql: text.toString('utf8'), threadId, executionTime, errorCode });
  }

  private mysqlGtid(h: EventHeader, body: Buffer, anonymous: boolean): BinlogEvent {
    const r = new ByteReader(body);
    r.u8();
    const sid = uuidText(r.bytes(16));
    const gno = r.u64();
    let commitTimestampUs: bigint | null = null;
    if (r.remaining >= 1 && r.u8() === 2 && r.remaining >= 16) {
      r.skip(16);
      if (r.remaining >= 7) {
        const low = BigInt(r.u32());
        const high = BigInt(r.u24());
        const raw = (high << 32n) | low;
        commitTimestampUs = raw & ((1n << 55n) - 1n);
      }
    }
    return withBody(h, {
      kind: 'gtid',
      flavour: 'mysql',
      gtid: `${sid}:${gno}`,
      sourceUuid: sid,
      tag: null,
      gno,
      commitTimestampUs,
      anonymous,
    });
  }

  /**
   * A PREVIOUS_GTIDS set: 8-byte source count, then per source uuid, intervals. MySQL 8.4+
   * writes the tagged format when a tag exists: byte 7 (and byte 0) = 1, the count in bytes 1–6,
   * and a tag (serialization varlen length + bytes) after each uuid.
   */
  private gtidSet(body: Buffer): string {
    const r = new ByteReader(body);
    const head = r.bytes(8);
    const tagged = head[7] === 1;
    const n = tagged ? head.readUIntLE(1, 6) : Number(head.readBigUInt64LE(0));
    if (n > 100_000) throw new TruncatedError(`${n} GTID sources`);
    const byUuid = new Map<string, string[]>();
    for (let i = 0; i < n; i++) {
      const sid = uuidText(r.bytes(16));
      let tag = '';
      if (tagged) {
        const first = r.u8();
        if ((first & 1) !== 0) throw new TruncatedError(`GTID tag length of more than one byte (0x${first.toString(16)})`);
        tag = r.bytes(first >> 1).toString('latin1');
      }
      const intervals = Number(r.u64());
      if (intervals > 1_000_000) throw new TruncatedError(`${intervals} GTID intervals`);
      const ranges: string[] = [];
      for (let k = 0; k < intervals; k++) {
        const start = r.u64();
        const end = r.u64() - 1n;
        ranges.push(start === end ? `${start}` : `${start}-${end}`);
      }
      const parts = byUuid.get(sid) ?? [];
      parts.push(tag ? `${tag}:${ranges.join(':')}` : ranges.join(':'));
      byUuid.set(sid, parts);
    }
    return [...byUuid].map(([sid, parts]) => `${sid}:${parts.join(':')}`).join(',');
  }

  private rows(h: EventHeader, type: number, body: Buffer): BinlogEvent {
    const compressed = isCompressedRows(type);
    const plain = compressed ? uncompressedRowsType(type) : type === EventType.PARTIAL_UPDATE_ROWS ? EventType.UPDATE_ROWS_V2 : type;
    const version = plain >= EventType.WRITE_ROWS_V2 ? 2 : 1;
    const post = this.postHeaderLength(type, version === 2 ? 10 : 8);
    const tableId = rowsTableId(body, post);
    const table = this.tables.get(tableId);
    if (!table) throw new BinlogError('BINLOG_SCHEMA', `rows event for table id ${tableId} without a preceding TABLE_MAP`, h);
    const kind =
      plain === EventType.WRITE_ROWS_V1 || plain === EventType.WRITE_ROWS_V2
        ? 'write'
        : plain === EventType.UPDATE_ROWS_V1 || plain === EventType.UPDATE_ROWS_V2
          ? 'update'
          : 'delete';
    const op = kind === 'write' ? 'c' : kind === 'update' ? 'u' : 'd';
    if (this.includeTable && !this.includeTable(table.map.database, table.map.table))
      return withBody(h, { kind: 'rows', op, table: table.map, rows: [], filtered: true });
    const rowsBody = compressed ? inflateRowsBody(body, readRowsLayout(body, post, version, kind).dataStart) : body;
    const rows = decodeRows(rowsBody, post, version, kind, table, type === EventType.PARTIAL_UPDATE_ROWS);
    return withBody(h, { kind: 'rows', op, table: table.map, rows });
  }
}
