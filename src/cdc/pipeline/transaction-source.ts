import { BinlogReader } from '../binlog/syncer/binlog-reader.js';
import { TransactionStream } from '../binlog/syncer/transaction-stream.js';
import type { TransactionItem } from '../binlog/syncer/transaction-items.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import type { InstanceConfig } from '../../config/index.js';

/** One run of an instance's source transactions, as the pipeline reads them. */
export interface TransactionSource {
  /** begin / rows / query / commit / abort items in order, until `close()` or a non-retriable error. */
  items(): AsyncIterable<TransactionItem>;
  /** Ends `items()` after the item it is on (a source transaction left open ends with `abort`). */
  close(): void;
  /** The server's identity once connected (`serverUuid` goes into every change event). */
  readonly facts: { serverUuid: string | null } | null;
}

/** Where an instance's source transactions come from: the binlog, or a test's fake. */
export interface TransactionSources {
  /** The transactions committed after `from`; rows of tables `includeTable` refuses may come out filtered. */
  open(from: Checkpoint, includeTable: (database: string, table: string) => boolean): TransactionSource;
  /** A checkpoint at the current end of the source (an instance's first start: nothing before it is read). */
  current(): Promise<Checkpoint>;
}

/** A shard instance with the account its binlog is read with. */
export type ReplicatedInstance = InstanceConfig & { replication: NonNullable<InstanceConfig['replication']> };

/** Options of {@link binlogSources}. */
export interface BinlogSourcesOptions {
  instance: ReplicatedInstance;
  replicaServerId: number;
  heartbeatMs: number;
}

/**
 * An instance's binlog as {@link TransactionSources}: a {@link TransactionStream} that does not
 * reconnect by itself (`maxAttempts: 0`) — the pipeline restarts from its committed checkpoint.
 */
export function binlogSources(o: BinlogSourcesOptions): TransactionSources {
  const { instance } = o;
  const endpoint = {
    name: instance.name,
    host: instance.host,
    port: instance.port,
    ...instance.replication,
    tls: instance.tls,
    serverPublicKey: instance.serverPublicKey,
  };
  return {
    open: (from, includeTable) =>
      new TransactionStream({
        instance: instance.name,
        endpoint,
        replicaServerId: o.replicaServerId,
        from,
        heartbeatMs: o.heartbeatMs,
        retry: { maxAttempts: 0 },
        includeTable,
      }),
    current: async () => {
      const reader = await BinlogReader.open({ instance: instance.name, endpoint, replicaServerId: o.replicaServerId, from: 'current' });
      const f = reader.facts;
      reader.close();
      return {
        instance: instance.name,
        flavour: f.flavour,
        serverUuid: f.serverUuid,
        serverId: f.serverId,
        file: f.current.file,
        pos: f.current.pos,
        gtidSet: null,
      };
    },
  };
}
