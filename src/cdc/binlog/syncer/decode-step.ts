import type { BinlogPosition } from '../../../errors/index.js';
import { positionAtOrAfter } from '../../checkpoint/checkpoint.js';
import type { BinlogEvent } from '../decoder/binlog-event.js';

/** What the step needs of a decoder ({@link BinlogDecoder} is one). */
export interface EventDecoder {
  decodeAll(bytes: Buffer): Iterable<BinlogEvent>;
}

/**
 * Where the stream stands after `event`: a rotate moves to its target, any other event with a
 * next position (heartbeats too: they name the file being read) moves past itself, the rest
 * (artificial events without one) leave it where it was.
 */
export function positionAfter(position: BinlogPosition, event: BinlogEvent): BinlogPosition {
  if (event.kind === 'rotate') return { file: event.nextFile, pos: event.position };
  if (event.nextPos > 0) return { file: event.kind === 'heartbeat' ? event.logFile || event.file : event.file, pos: event.nextPos };
  return position;
}

/** Whether the reader hands `event` on: heartbeats and the server's artificial rotates only move the position. */
export function isDelivered(event: BinlogEvent): boolean {
  return event.kind !== 'heartbeat' && !(event.kind === 'rotate' && event.artificial);
}

/**
 * Decodes one raw dump event at a time into the events to hand on, keeping the position after
 * the last decoded event and telling when it has reached `stopAt`.
 */
export class DecodeStep {
  private at: BinlogPosition;

  constructor(
    private readonly decoder: EventDecoder,
    start: BinlogPosition,
    private readonly stopAt: BinlogPosition | null,
  ) {
    this.at = start;
  }

  /** The position after the last event decoded. */
  get position(): BinlogPosition {
    return this.at;
  }

  /** Whether the position has reached `stopAt` (never without one). */
  get reachedStop(): boolean {
    return this.stopAt !== null && positionAtOrAfter(this.at, this.stopAt);
  }

  /** The events of one raw event that are handed on; the position moves as each is decoded. */
  *decode(bytes: Buffer): Generator<BinlogEvent> {
    for (const event of this.decoder.decodeAll(bytes)) {
      this.at = positionAfter(this.at, event);
      if (isDelivered(event)) yield event;
    }
  }
}
