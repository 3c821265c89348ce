import { setInterval } from 'node:timers';
import { TransactionStream, type TransactionStreamOptions } from '../binlog/syncer/transaction-stream.js';
import type { TransactionItem } from '../binlog/syncer/transaction-items.js';
import { takesWrites, writableNode, WritesProbe, type InstanceNode } from '../binlog/syncer/writable-node.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import type { VersionEpoch } from '../events/source-version.js';
import { ReplicationError } from '../../errors/index.js';
import type { TransactionSource } from './transaction-source.js';

/** Options of a {@link PrimarySource}. */
export interface PrimarySourceOptions extends Omit<TransactionStreamOptions, 'endpoint' | 'from'> {
  /** The instance's nodes: its primary first, then its replicas. */
  nodes: readonly InstanceNode[];
  from: Checkpoint;
  /** How often the node being read is asked whether it still takes writes (ms; only with replicas). */
  checkMs: number;
}

/**
 * The binlog of whichever node of an instance takes writes. It reads the node that is writable
 * when it starts, and while it reads asks that node every `checkMs` whether it still is: once it
 * is fenced (a planned failover) and another node takes writes, the source ends with a retriable
 * error, so the pipeline starts again from its committed checkpoint on the new primary — by GTID
 * set, in a new version epoch (see {@link TransactionStream}). A dead primary ends the stream by
 * itself; the restart then waits until a node takes writes.
 */
export class PrimarySource implements TransactionSource {
  private stream: TransactionStream | null = null;
  private closed = false;
  private moved: string | null = null;
  private watching: { stop(): void } | null = null;

  constructor(private readonly o: PrimarySourceOptions) {}

  get facts(): { serverUuid: string | null } | null {
    return this.stream?.facts ?? null;
  }

  get epoch(): VersionEpoch | undefined {
    return this.stream ? this.stream.epoch : this.o.from.epoch;
  }

  async *items(): AsyncGenerator<TransactionItem> {
    for await (const batch of this.batches()) yield* batch;
  }

  async *batches(): AsyncGenerator<TransactionItem[]> {
    const node = await writableNode(this.o.instance, this.o.nodes);
    if (this.closed) return;
    const stream = new TransactionStream({ ...this.o, endpoint: node, from: this.o.from });
    this.stream = stream;
    const watch = this.o.nodes.length > 1 ? this.watch(node, stream) : null;
    this.watching = watch;
    try {
      for await (const batch of stream.batches()) {
        const cut = this.moved === null ? -1 : batch.findIndex((item) => item.type === 'abort');
        if (cut < 0) {
          yield batch;
          continue;
        }
        if (cut > 0) yield batch.slice(0, cut);
        break;
      }
    } finally {
      watch?.stop();
    }
    if (this.moved !== null && !this.closed)
      throw new ReplicationError(
        'BINLOG_CONNECTION',
        `instance ${this.o.instance}: ${this.moved}; reading on from the node that takes writes`,
        {
          retriable: true,
        },
      );
  }

  /** Ends `items()`; also stops the watch at once (a consumer that failed may never pull again). */
  close(): void {
    this.closed = true;
    this.watching?.stop();
    this.stream?.close();
  }

  private watch(node: InstanceNode, stream: TransactionStream): { stop(): void } {
    const probe = new WritesProbe(node);
    let checking = false;
    const timer = setInterval(() => {
      if (checking || this.moved !== null || this.closed) return;
      checking = true;
      void (async () => {
        if ((await probe.takesWrites()) !== false) return;
        const others = this.o.nodes.filter((n) => n !== node);
        const states = await Promise.all(others.map((n) => takesWrites(n)));
        const next = others.find((_, i) => states[i] === true);
        if (!next || this.closed) return;
        this.moved = `${node.name} no longer takes writes and ${next.name} does (a failover)`;
        stream.close();
      })().finally(() => (checking = false));
    }, this.o.checkMs);
    timer.unref();
    return {
      stop: () => {
        clearInterval(timer);
        probe.close();
      },
    };
  }
}
