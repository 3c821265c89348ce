/**
 * Source patch of kafkajs 2.2.4's record decoder (`src/protocol/recordBatch/record/v0/decoder.js`),
 * applied when shardline's private copy is loaded. It checks that the text it replaces is there
 * and throws otherwise, so a kafkajs that changed fails at load, not on the wire.
 */

const TIMESTAMP_AND_OFFSET_ORIGINAL = `  const timestampDelta = decoder.readVarLong()
  const timestamp =
    timestampType === TimestampTypes.LOG_APPEND_TIME && maxTimestamp
      ? maxTimestamp
      : Long.fromValue(firstTimestamp)
          .add(timestampDelta)
          .toString()

  const offsetDelta = decoder.readVarInt()
  const offset = Long.fromValue(firstOffset)
    .add(offsetDelta)
    .toString()
`;

const TIMESTAMP_AND_OFFSET_WITH_NUMBERS = `  const timestampDelta = readSmallVarLong(decoder)
  const timestamp =
    timestampType === TimestampTypes.LOG_APPEND_TIME && maxTimestamp
      ? maxTimestamp
      : firstTimestampPlus(firstTimestamp, timestampDelta)

  const offsetDelta = decoder.readVarInt()
  const offset = firstOffsetPlus(firstOffset, offsetDelta)
`;

/**
 * Helpers appended to the module. A decimal of at most 15 digits is below 2^53, so the sum with a
 * delta of up to 2^31 is exact in a double and prints as the same digits as kafkajs's BigInt sum;
 * any other base (or a delta read as a Long) takes kafkajs's own path. The parsed base is kept
 * while consecutive records carry the same string (every record of a batch shares its context).
 */
const HELPERS = `
const SMALL_DECIMAL = /^-?[0-9]{1,15}$/
function readSmallVarLong(decoder) {
  const buf = decoder.buffer
  let offset = decoder.offset
  let result = 0
  for (let shift = 0; shift < 28 && offset < buf.length; shift += 7) {
    const byte = buf[offset++]
    result |= (byte & 0x7f) << shift
    if (byte < 0x80) {
      decoder.offset = offset
      return (result >>> 1) ^ -(result & 1)
    }
  }
  return decoder.readVarLong()
}
/** The number a batch's first timestamp or offset stands for, parsed once per string (NaN: take kafkajs's path). */
function decimalBase() {
  let last = null
  let base = NaN
  return first => {
    if (first !== last) {
      last = first
      base = typeof first === 'string' && SMALL_DECIMAL.test(first) ? Number(first) : NaN
    }
    return base
  }
}
function plus(baseOf) {
  return (first, delta) => {
    const base = baseOf(first)
    return typeof delta === 'number' && base === base ? String(base + delta) : Long.fromValue(first).add(delta).toString()
  }
}
const firstTimestampPlus = plus(decimalBase())
const firstOffsetPlus = plus(decimalBase())
`;

/**
 * Record timestamps and offsets computed with numbers instead of BigInt. kafkajs reads every
 * record's timestamp delta as a varlong through a handful of BigInt-backed `Long` objects per byte,
 * then adds it and the offset delta to the batch's first timestamp and offset through two more
 * `Long`s and two BigInt-to-decimal conversions (a 500-record batch: 1.5–1.6 µs per record
 * decoded before, 1.2–1.45 after), once per consumer group that reads it. A varlong of up to
 * four bytes (every delta within a batch of milliseconds) is read as a number; the strings are
 * the same (unit-tested against the unpatched decoder, large and negative values included).
 */
export function recordDecoderWithNumbers(source: string): string {
  if (!source.includes(TIMESTAMP_AND_OFFSET_ORIGINAL) || !source.includes("const Long = require('../../../../utils/long')"))
    throw new Error('src/protocol/recordBatch/record/v0/decoder.js is not the record decoder this patch was written for');
  return source.replace(TIMESTAMP_AND_OFFSET_ORIGINAL, TIMESTAMP_AND_OFFSET_WITH_NUMBERS) + HELPERS;
}
