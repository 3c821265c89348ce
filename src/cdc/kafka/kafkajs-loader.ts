import { createRequire } from 'node:module';
import type * as KafkaJs from 'kafkajs';

const require = createRequire(import.meta.url);

interface FilterInput {
  messages: Array<{ offset: string; key: Buffer | null; batchContext: { producerId: string | number; inTransaction: boolean } }>;
  abortedTransactions?: Array<{ producerId: string | number; firstOffset: string | number }>;
}

const ABORT_MARKER_KEY = Buffer.from([0, 0, 0, 0]);

/**
 * read_committed filtering of aborted transactions, as Kafka's Java consumer does it: aborted
 * transactions sorted by first offset and all of those starting at or before a record are
 * entered (kafkajs 2.2.4 enters at most one per record and assumes the broker's list is sorted,
 * so with several producers on a partition it hands out records of aborted transactions); a
 * producer leaves the set at its ABORT marker.
 */
export function filterAbortedMessages({ messages, abortedTransactions }: FilterInput): FilterInput['messages'] {
  if (!abortedTransactions?.length) return messages;
  const pending = abortedTransactions
    .map((t) => ({ producerId: String(t.producerId), first: BigInt(String(t.firstOffset)) }))
    .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const aborted = new Set<string>();
  return messages.filter((m) => {
    const offset = BigInt(String(m.offset));
    while (pending.length && offset >= pending[0]!.first) aborted.add(pending.shift()!.producerId);
    const producerId = String(m.batchContext.producerId);
    if (m.key && Buffer.from(m.key).equals(ABORT_MARKER_KEY)) {
      aborted.delete(producerId);
      return true;
    }
    return !(m.batchContext.inTransaction && aborted.has(producerId));
  });
}

const filterPath = require.resolve('kafkajs/src/consumer/filterAbortedMessages.js');
const batchPath = require.resolve('kafkajs/src/consumer/batch.js');
if (!require.cache[batchPath]) {
  require(filterPath);
  require.cache[filterPath]!.exports = filterAbortedMessages;
}

/** kafkajs, loaded with its aborted-transaction filter replaced by {@link filterAbortedMessages}. */
export const kafkajs = require('kafkajs') as typeof KafkaJs;
