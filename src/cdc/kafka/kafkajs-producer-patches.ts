/**
 * Source patch of kafkajs 2.2.4's producer (`src/producer/groupMessagesPerPartition.js`), applied
 * when shardline's private copy is loaded. It checks that the text it replaces is there and
 * throws otherwise, so a kafkajs that changed fails at load, not on the wire.
 */

const GROUPING_ORIGINAL = `  return messages.reduce((result, message) => {
    const partition = partitioner({ topic, partitionMetadata, message })
    const current = result[partition] || []
    return Object.assign(result, { [partition]: [...current, message] })
  }, {})`;

const GROUPING_LINEAR = `  const result = {}
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message })
    const current = result[partition]
    if (current) current.push(message)
    else result[partition] = [message]
  }
  return result`;

/**
 * The messages of a send grouped by partition in one pass. kafkajs copies a partition's whole
 * array for every message it adds (`[...current, message]`) and a one-key object per message, so
 * a send of n messages to p partitions allocates O(n²/p) array slots: with a Kafka transaction of
 * 1,000 change events on 4 partitions, more bytes than the events' JSON themselves (a sampling
 * heap profile of the worker at 5,000 rows/s: 8.6 % of everything it allocated). Same object,
 * same arrays in the same order (unit-tested against the unpatched module).
 */
export function linearPartitionGrouping(source: string): string {
  if (!source.includes(GROUPING_ORIGINAL))
    throw new Error('src/producer/groupMessagesPerPartition.js is not the grouping this patch was written for');
  return source.replace(GROUPING_ORIGINAL, GROUPING_LINEAR);
}

/** The three object spreads of kafkajs 2.2.4's Produce v3 request and what replaces each. */
const PRODUCE_SPREADS: ReadonlyArray<readonly [string, string]> = [
  [
    'await encodeTopic({ ...data, transactionalId, producerId, producerEpoch })',
    'await encodeTopic({ topic: data.topic, partitions: data.partitions, transactionalId, producerId, producerEpoch })',
  ],
  [
    'await encodePartitions({ ...data, transactionalId, producerId, producerEpoch })',
    'await encodePartitions({ partition: data.partition, messages: data.messages, firstSequence: data.firstSequence, transactionalId, producerId, producerEpoch })',
  ],
  [
    `    Record({
      ...message,
      offsetDelta: i,`,
    `    Record({
      key: message.key,
      value: message.value,
      headers: message.headers,
      offsetDelta: i,`,
  ],
];

/**
 * Source patch of kafkajs 2.2.4's Produce v3 request (`src/protocol/requests/produce/v3/request.js`):
 * the objects it hands on are written field by field instead of `{ ...data, more }`. Node 20's V8
 * takes about a microsecond for every property added after an object spread (v8:11536; Node 22
 * does not), and kafkajs does it for each topic, each partition and — with two more fields — each
 * message of a Produce request: ~3 µs per message published. Each callee reads only the fields
 * passed (`topicEncoder`: topic, partitions; `partitionsEncoder`: partition, messages,
 * firstSequence; `Record`: key, value, headers and the two deltas), so the request's bytes are the
 * same (unit-tested against the unpatched module). Throws unless every replaced text is there.
 */
export function produceRequestWithoutSpreads(source: string): string {
  let out = source;
  for (const [original, replacement] of PRODUCE_SPREADS) {
    if (!out.includes(original))
      throw new Error('src/protocol/requests/produce/v3/request.js is not the request this patch was written for');
    out = out.replace(original, replacement);
  }
  return out;
}
