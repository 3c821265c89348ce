import { ReplicationError } from '../../errors/index.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import type { OutboundMessage } from '../kafka/event-log.js';

/** How big and how old a Kafka transaction may grow. */
export interface BatchLimits {
  /** Commit at the first source commit once this many messages are in the Kafka transaction. */
  maxEvents: number;
  /** Commit at a source-transaction boundary once the Kafka transaction is this old (ms). */
  maxMs: number;
  /** Send buffered messages once this many wait (rows of a huge source transaction go out as they come). */
  sendChunk: number;
}

/** What the pipeline does next, in the order given. */
export type BatchAction =
  /** Open a Kafka transaction. */
  | { type: 'begin' }
  /** Send these messages in the open Kafka transaction. */
  | { type: 'send'; messages: OutboundMessage[] }
  /**
   * Send `messages`, then the checkpoint (null when no source transaction committed in the
   * batch), then commit the Kafka transaction; `events` messages were sent in it in all.
   */
  | { type: 'commit'; messages: OutboundMessage[]; checkpoint: Checkpoint | null; events: number };

/** How the pipeline waits for the next source item. */
export type BatchWait =
  /** Commit the open batch now (it is due, or the pipeline stops), before reading on. */
  | { type: 'flush' }
  /** Wait at most `ms`; on timeout, commit the open batch. */
  | { type: 'until-due'; ms: number }
  /** No Kafka transaction is open: wait up to `ms` and count the instance idle if nothing came. */
  | { type: 'idle'; ms: number }
  /** Inside a source transaction: wait for its next item however long it takes. */
  | { type: 'in-transaction' };

/** How long an instance waits without a new item before it counts as idle (caught up). */
export const IDLE_AFTER_MS = 1000;

/**
 * The batching of the CDC producer as a state machine (pure): source-transaction items in,
 * Kafka actions out. Source transactions are grouped into one Kafka transaction up to
 * `maxEvents` messages or `maxMs`, and a Kafka transaction always ends at a source commit,
 * carrying the checkpoint of that commit — so Kafka never holds part of a source transaction.
 * Time comes in as `now` (ms) from the caller's clock.
 */
export class KafkaBatcher {
  private open = false;
  private inSource = false;
  private openedAt = 0;
  private buffer: OutboundMessage[] = [];
  private events = 0;
  private pending: Checkpoint | null = null;

  constructor(private readonly limits: BatchLimits) {}

  /** True between a source `begin` and its `commit`. */
  get inTransaction(): boolean {
    return this.inSource;
  }

  /** True while a Kafka transaction is open. */
  get batchOpen(): boolean {
    return this.open;
  }

  /** A source transaction begins: opens a Kafka transaction unless one is open. */
  begin(now: number): BatchAction[] {
    if (this.inSource) throw outOfOrder('a begin inside an open source transaction');
    this.inSource = true;
    if (this.open) return [];
    this.open = true;
    this.openedAt = now;
    return [{ type: 'begin' }];
  }

  /** Messages of the open source transaction: buffered, sent once `sendChunk` of them wait. */
  rows(messages: readonly OutboundMessage[]): BatchAction[] {
    if (!this.inSource) throw outOfOrder('rows outside a source transaction');
    for (const m of messages) this.buffer.push(m);
    this.events += messages.length;
    if (this.buffer.length < this.limits.sendChunk) return [];
    return [{ type: 'send', messages: this.take() }];
  }

  /**
   * Messages that belong to no source transaction (a snapshot chunk and its progress), added
   * between source transactions: opens a Kafka transaction unless one is open.
   */
  insert(messages: readonly OutboundMessage[], now: number): BatchAction[] {
    if (this.inSource) throw outOfOrder('snapshot rows inside an open source transaction');
    if (messages.length === 0) return [];
    const out: BatchAction[] = [];
    if (!this.open) {
      this.open = true;
      this.openedAt = now;
      out.push({ type: 'begin' });
    }
    for (const m of messages) this.buffer.push(m);
    this.events += messages.length;
    if (this.buffer.length >= this.limits.sendChunk) out.push({ type: 'send', messages: this.take() });
    return out;
  }

  /** The source transaction committed: commits the batch when it is full, or at once with `force` (stopping). */
  commit(checkpoint: Checkpoint, force = false): BatchAction[] {
    if (!this.inSource) throw outOfOrder('a commit outside a source transaction');
    this.inSource = false;
    this.pending = checkpoint;
    return this.events >= this.limits.maxEvents || force ? this.flush() : [];
  }

  /** How to wait for the next item at `now`; `stopping` asks for the open batch to end at the next boundary. */
  wait(now: number, stopping: boolean): BatchWait {
    if (!this.open) return { type: 'idle', ms: IDLE_AFTER_MS };
    if (this.inSource) return { type: 'in-transaction' };
    const remaining = this.openedAt + this.limits.maxMs - now;
    return remaining <= 0 || stopping ? { type: 'flush' } : { type: 'until-due', ms: remaining };
  }

  /**
   * Commits the open Kafka transaction (nothing when none is open).
   * @throws {ReplicationError} BINLOG_CONNECTION (retriable) inside a source transaction: its rows
   *   must not be committed without its end, so the batch is given up and read again.
   */
  flush(): BatchAction[] {
    if (!this.open) return [];
    if (this.inSource)
      throw new ReplicationError('BINLOG_CONNECTION', 'the source ended inside a transaction; its batch is dropped and read again', {
        retriable: true,
      });
    const action: BatchAction = { type: 'commit', messages: this.take(), checkpoint: this.pending, events: this.events };
    this.reset();
    return [action];
  }

  /** Forgets the open batch (its Kafka transaction is aborted): the next item starts afresh. */
  reset(): void {
    this.open = false;
    this.inSource = false;
    this.buffer = [];
    this.events = 0;
    this.pending = null;
  }

  private take(): OutboundMessage[] {
    const out = this.buffer;
    this.buffer = [];
    return out;
  }
}

function outOfOrder(what: string): ReplicationError {
  return new ReplicationError('BINLOG_DECODE', `the transaction stream handed out ${what}`, { retriable: false });
}
