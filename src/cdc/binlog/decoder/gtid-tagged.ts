import { TruncatedError } from './byte-reader.js';

/** A GTID_TAGGED event (MySQL 8.4+), decoded from MySQL's serialization framework. */
export interface TaggedGtid {
  flags: number;
  uuid: Buffer;
  gno: bigint;
  tag: string;
  lastCommitted: bigint;
  sequenceNumber: bigint;
  immediateCommitTimestampUs: bigint;
  originalCommitTimestampUs: bigint;
  transactionLength: bigint;
  immediateServerVersion: number;
  originalServerVersion: number;
  commitGroupTicket: bigint;
}

const MAX_TAG = 32;

/**
 * Reader of mysql::serialization's binary archive: variable-length integers whose first byte's
 * trailing one bits give the byte count, little-endian; signed values zigzag-like (sign in bit 0).
 */
class SerialReader {
  pos = 0;

  constructor(
    private readonly buf: Buffer,
    private end = buf.length,
  ) {}

  get atEnd(): boolean {
    return this.pos >= this.end;
  }

  limit(end: number): void {
    if (end > this.buf.length || end < this.pos) throw new TruncatedError(`serialized message of ${end} bytes in ${this.buf.length}`);
    this.end = end;
  }

  unsigned(): bigint {
    if (this.pos >= this.end) throw new TruncatedError('serialized integer truncated');
    const first = this.buf[this.pos]!;
    let n = 1;
    while (n < 9 && (first >> (n - 1)) & 1) n++;
    if (this.pos + n > this.end) throw new TruncatedError('serialized integer truncated');
    let rest = 0n;
    for (let i = n - 1; i >= 1; i--) rest = (rest << 8n) | BigInt(this.buf[this.pos + i]!);
    this.pos += n;
    if (n === 9) return rest;
    return (BigInt(first) >> BigInt(n)) | (rest << BigInt(8 - n));
  }

  small(max: number): number {
    const v = this.unsigned();
    if (v > BigInt(max)) throw new TruncatedError(`serialized value ${v} exceeds ${max}`);
    return Number(v);
  }

  signed(): bigint {
    const v = this.unsigned();
    return v & 1n ? -(v >> 1n) - 1n : v >> 1n;
  }

  bytes(n: number): Buffer {
    if (this.pos + n > this.end) throw new TruncatedError('serialized string truncated');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  peekId(): number | null {
    if (this.atEnd) return null;
    const save = this.pos;
    const id = this.small(0xffff);
    this.pos = save;
    return id;
  }
}

/**
 * Decodes the body of a GTID_TAGGED event (Gtid_event::read_gtid_tagged_log_event): a serialized
 * message (format version, size, last non-ignorable field id) whose fields are, by id, flags, uuid
 * (16 integers), gno, tag, last_committed, sequence_number, immediate and original commit
 * timestamps, transaction length, immediate and original server version, commit group ticket.
 */
export function parseTaggedGtid(body: Buffer): TaggedGtid {
  const r = new SerialReader(body);
  const start = r.pos;
  r.small(0xff);
  const size = r.small(body.length);
  r.limit(start + size);
  const lastNonIgnorable = r.small(0xffff);
  if (lastNonIgnorable > 12) throw new TruncatedError(`GTID_TAGGED has unknown non-ignorable field ${lastNonIgnorable - 1}`);
  const field = (id: number): boolean => {
    if (r.peekId() !== id) return false;
    r.unsigned();
    return true;
  };
  const required = (id: number, name: string) => {
    if (!field(id)) throw new TruncatedError(`GTID_TAGGED without its ${name}`);
  };
  required(0, 'flags');
  const flags = r.small(0xff);
  required(1, 'uuid');
  const uuid = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) uuid[i] = r.small(0xff);
  required(2, 'gno');
  const gno = r.signed();
  required(3, 'tag');
  const tagLen = r.small(MAX_TAG);
  const tag = r.bytes(tagLen).toString('utf8');
  required(4, 'last_committed');
  const lastCommitted = r.signed();
  required(5, 'sequence_number');
  const sequenceNumber = r.signed();
  required(6, 'immediate_commit_timestamp');
  const immediateCommitTimestampUs = r.unsigned();
  const originalCommitTimestampUs = field(7) ? r.unsigned() : immediateCommitTimestampUs;
  required(8, 'transaction_length');
  const transactionLength = r.unsigned();
  required(9, 'immediate_server_version');
  const immediateServerVersion = r.small(0xffffffff);
  const originalServerVersion = field(10) ? r.small(0xffffffff) : immediateServerVersion;
  const commitGroupTicket = field(11) ? r.unsigned() : 0n;
  return {
    flags,
    uuid,
    gno,
    tag,
    lastCommitted,
    sequenceNumber,
    immediateCommitTimestampUs,
    originalCommitTimestampUs,
    transactionLength,
    immediateServerVersion,
    originalServerVersion,
    commitGroupTicket,
  };
}
