import { BinlogReader } from '../binlog/syncer/binlog-reader.js';
import { writableNode, type InstanceNode } from '../binlog/syncer/writable-node.js';
import { PrimarySource } from './primary-source.js';
import { exactBinlogEnd } from '../binlog/syncer/binlog-end.js';
import type { TransactionItem } from '../binlog/syncer/transaction-items.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import type { InstanceConfig } from '../../config/index.js';
import type { Logger } from '../../log/logger.js';
import type { VersionEpoch } from '../events/source-version.js';

/** One run of an instance's source transactions, as the pipeline reads them. */
export interface TransactionSource {
  /** begin / rows / query / commit / abort items in order, until `close()` or a non-retriable error. */
  items(): AsyncIterable<TransactionItem>;
  /**
   * The same items in batches (never empty), when the source can hand out several at once: the
   * pipeline then takes one async step per batch instead of one per item.
   */
  batches?(): AsyncIterable<TransactionItem[]>;
  /** Ends `items()` after the item it is on (a source transaction left open ends with `abort`). */
  close(): void;
  /** The server's identity once connected (`serverUuid` goes into every change event). */
  readonly facts: { serverUuid: string | null } | null;
  /** How the positions of the server being read become versions (absent: epoch 0). */
  readonly epoch?: VersionEpoch;
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
  /** With replicas: how often the node being read is asked whether it still takes writes (ms, default 2000). */
  primaryCheckMs?: number;
  /** Told when a reader resumes on another server (a failover). */
  logger?: Logger;
}

/** The instance's nodes with the binlog account: the configured primary, then its replicas (same account and TLS). */
export function instanceNodes(instance: ReplicatedInstance): InstanceNode[] {
  const common = { ...instance.replication, tls: instance.tls };
  return [
    { name: instance.name, host: instance.host, port: instance.port, ...common, serverPublicKey: instance.serverPublicKey },
    ...(instance.replicas ?? []).map((r) => ({ name: r.name, host: r.host, port: r.port, ...common, serverPublicKey: r.serverPublicKey })),
  ];
}

/**
 * An instance's binlog as {@link TransactionSources}: the binlog of the node that takes writes
 * ({@link PrimarySource}, which follows a failover), read by a {@link TransactionStream} that
 * does not reconnect by itself (`maxAttempts: 0`) — the pipeline restarts from its committed checkpoint.
 */
export function binlogSources(o: BinlogSourcesOptions): TransactionSources {
  const { instance } = o;
  const nodes = instanceNodes(instance);
  return {
    open: (from, includeTable) =>
      new PrimarySource({
        instance: instance.name,
        nodes,
        checkMs: o.primaryCheckMs ?? 2000,
        replicaServerId: o.replicaServerId,
        from,
        heartbeatMs: o.heartbeatMs,
        retry: { maxAttempts: 0 },
        includeTable,
        onServerChange: ({ from: was, to, epoch, missing }) => {
          const info = { instance: instance.name, from: was, to, epoch };
          if (missing.length)
            o.logger?.warn(
              { ...info, missing },
              'resuming on another server by GTID: transactions read on the old one never reached it (an unplanned failover); their changes stay published',
            );
          else o.logger?.info(info, 'resuming on another server by GTID (a failover): versions continue in a new epoch');
        },
      }),
    current: async () => {
      const endpoint = await writableNode(instance.name, nodes);
      const reader = await BinlogReader.open({ instance: instance.name, endpoint, replicaServerId: o.replicaServerId, from: 'current' });
      const f = reader.facts;
      reader.close();
      const checkpoint: Checkpoint = {
        instance: instance.name,
        flavour: f.flavour,
        serverUuid: f.serverUuid,
        serverId: f.serverId,
        file: f.current.file,
        pos: f.current.pos,
        gtidSet: null,
      };
      // The GTIDs at exactly that point: a failover resumes by them. Without the privilege that
      // gives them, read from the file's start (handing out nothing before the end): its
      // PREVIOUS_GTIDS / GTID_LIST and the transactions up to the end give the same set.
      const exact = f.flavour === 'mariadb' || f.gtidExecuted !== '' ? await exactBinlogEnd(endpoint, f.flavour).catch(() => null) : null;
      if (exact) Object.assign(checkpoint, exact);
      else if (f.current.pos > 4 && (f.flavour === 'mariadb' || f.gtidExecuted !== ''))
        checkpoint.resume = { file: f.current.file, pos: 4, gtidSet: null };
      return checkpoint;
    },
  };
}
