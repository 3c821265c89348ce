import type { RowsEvent } from '../binlog/syncer/transaction-items.js';
import type { OutboundMessage } from '../kafka/event-log.js';
import type { CaptureTarget } from './capture-rules.js';
import { changeMessages } from './change-messages.js';
import type { VersionEpoch } from '../events/source-version.js';

/** What a source `begin` tells about its transaction. */
export interface SourceBegin {
  gtid: string | null;
  commitUs: bigint | null;
  /** Binlog timestamp of the transaction's first event (seconds). */
  timestamp: number;
}

/**
 * Turns the rows events of one source transaction after another into change messages: keeps
 * the transaction's GTID and commit time, and numbers rows that share a binlog position (the
 * inner events of a compressed payload) on from one event to the next.
 */
export class RowMessages {
  private current: SourceBegin = { gtid: null, commitUs: null, timestamp: 0 };
  private lastPos = -1;
  private rowBase = 0;

  constructor(private readonly o: { instance: string; flavour: 'mysql' | 'mariadb'; topicPrefix: string }) {}

  /** A source transaction begins. */
  begin(item: SourceBegin): void {
    this.current = { gtid: item.gtid, commitUs: item.commitUs, timestamp: item.timestamp };
  }

  /** One message per changed row of `event`. */
  of(event: RowsEvent, target: CaptureTarget, serverUuid: string | null, epoch?: VersionEpoch, archival = false): OutboundMessage[] {
    this.rowBase = event.pos === this.lastPos ? this.rowBase : 0;
    this.lastPos = event.pos;
    const { gtid, commitUs } = this.current;
    const { messages } = changeMessages(
      event,
      target,
      { instance: this.o.instance, flavour: this.o.flavour, serverUuid, gtid, commitUs, topicPrefix: this.o.topicPrefix, epoch, archival },
      this.rowBase,
    );
    this.rowBase += messages.length;
    return messages;
  }

  /** The commit time of the current source transaction in ms (from its commit timestamp, else its binlog timestamp). */
  commitTimeMs(): number {
    const { commitUs, timestamp } = this.current;
    return commitUs !== null ? Number(commitUs / 1000n) : timestamp * 1000;
  }
}
