/**
 * Source patches of kafkajs 2.2.4's protocol Encoder (`src/protocol/encoder.js`), applied when
 * shardline's private copy is loaded. Each one checks that the text it replaces is there and
 * throws otherwise, so a kafkajs that changed fails at load, not on the wire.
 */

/**
 * Buffers from `Buffer.allocUnsafe` instead of `Buffer.alloc`: every record of a produce request
 * gets an Encoder of its own (512 bytes, grown by doubling), and zero-filling them was the largest
 * single cost of publishing a row (a third of the worker's CPU with a snapshot into Kafka). Nothing
 * reads an Encoder's buffer past what it wrote (`buffer` is `buf.slice(0, offset)`), so no stale
 * bytes can leave the process.
 */
export function encoderWithoutZeroFill(source: string): string {
  const allocations = source.split('Buffer.alloc(').length - 1;
  if (allocations !== 2 || !source.includes('get buffer() {\n    return this.buf.slice(0, this.offset)'))
    throw new Error(`src/protocol/encoder.js is not the Encoder this patch was written for (${allocations} Buffer.alloc calls)`);
  return source.replaceAll('Buffer.alloc(', 'Buffer.allocUnsafe(');
}

const UVARINT_ORIGINAL = `  writeUVarInt(value) {
    const byteArray = []
    while ((value & UNSIGNED_INT32_MAX_NUMBER) !== 0) {
      byteArray.push((value & OTHER_BITS) | MOST_SIGNIFICANT_BIT)
      value >>>= 7
    }
    byteArray.push(value & OTHER_BITS)
    this.writeBufferInternal(Buffer.from(byteArray))
    return this
  }`;

/** The same bytes, written in place: no array and no Buffer per varint. */
const UVARINT_IN_PLACE = `  writeUVarInt(value) {
    this.ensureAvailable(5)
    while ((value & UNSIGNED_INT32_MAX_NUMBER) !== 0) {
      this.buf[this.offset++] = (value & OTHER_BITS) | MOST_SIGNIFICANT_BIT
      value >>>= 7
    }
    this.buf[this.offset++] = value & OTHER_BITS
    return this
  }`;

const SIZE_OF_VARLONG_HEAD = `  static sizeOfVarLong(value) {
`;
const WRITE_VARLONG_HEAD = `  writeVarLong(value) {
`;
/**
 * A varlong of an integer within ±2^30 is the varint of the same value (its zig-zag form fits in
 * 31 bits), so the 64-bit path — a handful of `Long` objects per call — is taken only beyond.
 * Record timestamp deltas (a varlong in every record) are milliseconds within one batch.
 */
const SMALL_VARLONG = `typeof value === 'number' && Number.isInteger(value) && value >= -0x40000000 && value < 0x40000000`;

/**
 * Varints written in place and small varlongs through the 32-bit path. kafkajs writes every
 * record's length, offset delta, key and value lengths as varints, each through a fresh array
 * and `Buffer.from` (plus `Long` arithmetic for the timestamp delta): a fifth of the CPU of
 * encoding a produce request. The bytes are the same (unit-tested against the unpatched Encoder).
 */
export function encoderWithFastVarints(source: string): string {
  if (!source.includes(UVARINT_ORIGINAL) || !source.includes(SIZE_OF_VARLONG_HEAD) || !source.includes(WRITE_VARLONG_HEAD))
    throw new Error('src/protocol/encoder.js is not the Encoder this patch was written for (writeUVarInt, sizeOfVarLong, writeVarLong)');
  return source
    .replace(UVARINT_ORIGINAL, UVARINT_IN_PLACE)
    .replace(SIZE_OF_VARLONG_HEAD, `${SIZE_OF_VARLONG_HEAD}    if (${SMALL_VARLONG}) return Encoder.sizeOfVarInt(value)\n`)
    .replace(WRITE_VARLONG_HEAD, `${WRITE_VARLONG_HEAD}    if (${SMALL_VARLONG}) return this.writeVarInt(value)\n`);
}

/** Every patch of the Encoder, in order. */
export function patchedEncoder(source: string): string {
  return encoderWithFastVarints(encoderWithoutZeroFill(source));
}
