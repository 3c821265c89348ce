/**
 * Source patch of kafkajs 2.2.4's record batch decoder (`src/protocol/recordBatch/v0/decoder.js`),
 * applied when shardline's private copy is loaded: every fetched batch's CRC32C is checked, as
 * Kafka's Java consumer does (`check.crcs=true`). kafkajs reads the CRC and ignores it, so a batch
 * corrupted on the broker's disk or in transit was decoded into records — garbage, or worse, a
 * change event with a flipped byte inside a value that still parses and is applied as if the
 * source had written it. A batch that fails the check now fails the whole fetch response it came
 * in with a retriable `KafkaJSError` naming the offset: the consumer fetches again (kafkajs logs
 * each failure, then restarts the consumer), and a batch corrupt on the broker keeps failing —
 * nothing of that fetch is handed out, so the group stops at its committed offset instead of
 * applying corrupt data, until the broker's log is repaired or the group's offset is moved past
 * the batch by an operator. The check throws at load if kafkajs's text changed, so a different
 * kafkajs fails closed.
 */

const CRC_IGNORED = `  // The library is currently not performing CRC validations
  const crc = decoder.readInt32() // eslint-disable-line no-unused-vars
`;

const CRC_CHECKED = `  const crc = decoder.readInt32()
  verifyRecordBatchCrc(decoder.buffer, decoder.offset, crc, firstOffset)
`;

/** The CRC covers the batch from its attributes (right after the CRC field) to its end. */
const HELPERS = `
const { KafkaJSError: KafkaJSCrcError } = require('../../../errors')
const crc32COfBatch = require('../crc32C')
function verifyRecordBatchCrc(buffer, from, crc, firstOffset) {
  const computed = crc32COfBatch(buffer.subarray(from))
  const stored = crc >>> 0
  if (computed !== stored) {
    throw new KafkaJSCrcError(
      \`record batch at offset \${firstOffset} failed its CRC32C check (stored \${stored}, computed \${computed}): corrupt on the broker or in transit\`,
      { retriable: true }
    )
  }
}
`;

/** `src/protocol/recordBatch/v0/decoder.js` with the batch CRC checked. @throws {Error} when the text to replace is not there */
export function recordBatchDecoderWithCrcCheck(source: string): string {
  if (!source.includes(CRC_IGNORED)) throw new Error('src/protocol/recordBatch/v0/decoder.js no longer reads the CRC where expected');
  return source.replace(CRC_IGNORED, CRC_CHECKED) + HELPERS;
}
