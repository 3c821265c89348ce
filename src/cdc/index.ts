/**
 * shardline/cdc: the binlog reader and change events.
 *
 * @example
 * import { TransactionStream } from 'shardline/cdc';
 * const stream = new TransactionStream({ instance: 'shard-0', endpoint, replicaServerId: 4001, from: 'current' });
 * for await (const item of stream.items()) if (item.type === 'commit') await save(item.checkpoint);
 */
export * from './binlog/index.js';
export * from './checkpoint/index.js';
export * from './schema/index.js';
export { changeEvents } from './events/change-event.js';
export type { ChangeEvent, ChangeSource, ChangeContext } from './events/change-event.js';
export { BinlogError } from '../errors/index.js';
