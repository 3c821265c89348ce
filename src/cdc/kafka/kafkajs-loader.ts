import { createRequire } from 'node:module';
import path from 'node:path';
import type * as KafkaJs from '@shardline/kafkajs';
import { KafkaError } from '../../errors/index.js';
import { lz4Codec } from './compression.js';
import { patchedEncoder } from './kafkajs-encoder-patches.js';
import { recordDecoderWithNumbers } from './kafkajs-decoder-patches.js';
import { recordBatchDecoderWithCrcCheck } from './kafkajs-crc-check.js';
import { fasterCrc32c } from './crc32c.js';
import { linearPartitionGrouping, produceRequestWithoutSpreads } from './kafkajs-producer-patches.js';
import { checkedRecordEncoderSource, directRecordEncoder, type RecordEncoder } from './kafkajs-record-encoder.js';
import { eosManagerWithCachedCoordinator } from './kafkajs-coordinator-cache.js';
import { patchRequestTimeoutCheck, scheduleCheckPendingRequests, type RequestTimeoutQueue } from './kafkajs-request-queue.js';
import { coalescedCommitOffsets, type OffsetCommitter } from './kafkajs-offset-commits.js';
import { privateCommonJs, type PrivateRequire } from './private-commonjs.js';

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

/** The package shardline depends on under its own name (`npm:kafkajs@2.2.4`): never the host's `kafkajs`. */
export const KAFKAJS_PACKAGE = '@shardline/kafkajs';

/** Out-of-order aborted transactions of two producers, and the offsets a correct filter keeps. */
function selfCheck(requireKafkajs: PrivateRequire, root: string): boolean {
  const Batch = requireKafkajs(path.join(root, 'src/consumer/batch.js')) as new (
    topic: string,
    fetchedOffset: string,
    partitionData: unknown,
  ) => { messages: Array<{ offset: string }> };
  const rec = (offset: number, producerId: number, marker?: number) => ({
    offset: String(offset),
    key: marker === undefined ? Buffer.from('k') : Buffer.from([0, 0, 0, marker]),
    value: null,
    isControlRecord: marker !== undefined,
    batchContext: { producerId: String(producerId), inTransaction: true },
  });
  const batch = new Batch('shardline-self-check', '10', {
    partition: 0,
    highWatermark: '20',
    abortedTransactions: [
      { producerId: '2', firstOffset: '11' },
      { producerId: '1', firstOffset: '10' },
    ],
    messages: [
      rec(10, 1),
      rec(11, 2),
      rec(12, 3),
      rec(13, 2),
      rec(14, 2, 0),
      rec(15, 3),
      rec(16, 3, 1),
      rec(17, 1),
      rec(18, 1, 0),
      rec(19, 1),
    ],
  });
  return batch.messages.map((m) => m.offset).join() === '12,15,19';
}

/**
 * kafkajs as shardline uses it: the package `@shardline/kafkajs`, loaded into a module graph of
 * its own (see {@link privateCommonJs}) with `src/consumer/filterAbortedMessages.js` replaced by
 * {@link filterAbortedMessages}, its protocol Encoder patched ({@link patchedEncoder}: no zero-fill,
 * varints written in place), its record decoder's timestamps and offsets computed with numbers
 * ({@link recordDecoderWithNumbers}), every fetched batch's CRC32C checked ({@link recordBatchDecoderWithCrcCheck}) and computed eight bytes a step ({@link fasterCrc32c}), a send's messages grouped by partition in one pass
 * ({@link linearPartitionGrouping}), its Produce request built without object spreads ({@link produceRequestWithoutSpreads}), each record encoded straight into one Buffer ({@link directRecordEncoder}), its transaction coordinator kept between requests
 * ({@link eosManagerWithCachedCoordinator}), an LZ4 codec ({@link lz4Codec}), the request queue's idle timer
 * loop removed ({@link scheduleCheckPendingRequests}), its request timeouts checked when one is due rather than every 100 ms ({@link patchRequestTimeoutCheck}) and concurrent offset commits coalesced ({@link coalescedCommitOffsets}). Whatever the host application loaded before — its own `kafkajs`,
 * even from the same files — neither skips the correction nor sees it. Fails closed: unless a
 * batch of the loaded copy drops every record of out-of-order aborted transactions, loading
 * throws a {@link KafkaError} and shardline does not read Kafka with an unsafe filter. `root`: the
 * package's folder (default: where `@shardline/kafkajs` resolves from here).
 */
export function loadKafkajs(root?: string): typeof KafkaJs {
  try {
    root ??= path.dirname(createRequire(import.meta.url).resolve(`${KAFKAJS_PACKAGE}/package.json`));
    const filterFile = path.join(root, 'src/consumer/filterAbortedMessages.js');
    const requireKafkajs = privateCommonJs(
      new Map([[filterFile, filterAbortedMessages]]),
      new Map([
        [path.join(root, 'src/protocol/encoder.js'), patchedEncoder],
        [path.join(root, 'src/protocol/recordBatch/record/v0/decoder.js'), recordDecoderWithNumbers],
        [path.join(root, 'src/protocol/recordBatch/v0/decoder.js'), recordBatchDecoderWithCrcCheck],
        [path.join(root, 'src/producer/eosManager/index.js'), eosManagerWithCachedCoordinator],
        [path.join(root, 'src/producer/groupMessagesPerPartition.js'), linearPartitionGrouping],
        [path.join(root, 'src/protocol/requests/produce/v3/request.js'), produceRequestWithoutSpreads],
        [path.join(root, 'src/protocol/recordBatch/record/v0/index.js'), checkedRecordEncoderSource],
      ]),
      new Map<string, (exports: unknown) => unknown>([
        [path.join(root, 'src/protocol/recordBatch/record/v0/index.js'), (e: unknown) => directRecordEncoder(e as RecordEncoder)],
        [path.join(root, 'src/protocol/recordBatch/crc32C/crc32C.js'), fasterCrc32c],
      ]),
    );
    const client = requireKafkajs(path.join(root, 'index.js')) as typeof KafkaJs;
    const queue = requireKafkajs(path.join(root, 'src/network/requestQueue/index.js')) as { prototype: Record<string, unknown> };
    if (typeof queue.prototype['scheduleCheckPendingRequests'] !== 'function')
      throw new Error('src/network/requestQueue has no scheduleCheckPendingRequests to replace');
    queue.prototype['scheduleCheckPendingRequests'] = scheduleCheckPendingRequests;
    patchRequestTimeoutCheck(queue.prototype as unknown as RequestTimeoutQueue);
    const offsets = requireKafkajs(path.join(root, 'src/consumer/offsetManager/index.js')) as { prototype: OffsetCommitter };
    if (typeof offsets.prototype.commitOffsets !== 'function') throw new Error('src/consumer/offsetManager has no commitOffsets to wrap');
    offsets.prototype.commitOffsets = coalescedCommitOffsets(offsets.prototype.commitOffsets);
    const codec = lz4Codec();
    (client.CompressionCodecs as Record<number, () => unknown>)[client.CompressionTypes.LZ4] = () => codec;
    if (selfCheck(requireKafkajs, root)) return client;
  } catch (err) {
    throw new KafkaError('KAFKA', `cannot load ${KAFKAJS_PACKAGE} with its read_committed filter corrected: ${(err as Error).message}`, {
      retriable: false,
      cause: err,
    });
  }
  throw new KafkaError(
    'KAFKA',
    `${KAFKAJS_PACKAGE} (${root ?? '?'}) still hands out records of aborted transactions to read_committed readers: its consumer no longer uses the replaced filter`,
    { retriable: false },
  );
}

/** kafkajs with its aborted-transaction filter replaced by {@link filterAbortedMessages}, private to shardline. */
export const kafkajs = loadKafkajs();
