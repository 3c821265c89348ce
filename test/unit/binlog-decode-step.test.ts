import { BinlogError, type BinlogPosition } from '../../src/errors/index.js';
import { BinlogDecoder } from '../../src/cdc/binlog/decoder/binlog-decoder.js';
import type { BinlogEvent } from '../../src/cdc/binlog/decoder/binlog-event.js';
import { EventType } from '../../src/cdc/binlog/decoder/event-types.js';
import { DecodeStep, isDelivered, positionAfter, type EventDecoder } from '../../src/cdc/binlog/syncer/decode-step.js';
import { dumpFailure } from '../../src/cdc/binlog/syncer/dump-failure.js';
import { HeartbeatTimeoutError } from '../../src/cdc/binlog/syncer/heartbeat-watchdog.js';
import { event, queryBody, xidBody } from '../support/binlog-builders.js';

const header = { timestamp: 0, eventType: 0, serverId: 1, eventSize: 0, flags: 0 };
const ev = (file: string, pos: number, nextPos: number, body: Record<string, unknown>) =>
  ({ ...header, file, pos, nextPos, ...body }) as BinlogEvent;

function rotateBody(position: number, nextFile: string): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(position));
  return Buffer.concat([b, Buffer.from(nextFile)]);
}

describe('positionAfter and isDelivered', () => {
  const at: BinlogPosition = { file: 'binlog.000003', pos: 120 };

  it('a rotate moves to its target, real or artificial', () => {
    expect(
      positionAfter(at, ev('binlog.000003', 900, 950, { kind: 'rotate', nextFile: 'binlog.000004', position: 4, artificial: false })),
    ).toEqual({ file: 'binlog.000004', pos: 4 });
    expect(
      positionAfter(at, ev('binlog.000003', 0, 0, { kind: 'rotate', nextFile: 'binlog.000009', position: 1234, artificial: true })),
    ).toEqual({ file: 'binlog.000009', pos: 1234 });
  });

  it('a heartbeat moves to its next position in the file it names, or its own file when it names none', () => {
    expect(positionAfter(at, ev('binlog.000003', 0, 777, { kind: 'heartbeat', logFile: 'binlog.000005' }))).toEqual({
      file: 'binlog.000005',
      pos: 777,
    });
    expect(positionAfter(at, ev('binlog.000003', 0, 778, { kind: 'heartbeat', logFile: '' }))).toEqual({ file: 'binlog.000003', pos: 778 });
  });

  it('other events move past themselves; events without a next position leave it', () => {
    expect(positionAfter(at, ev('binlog.000003', 120, 300, { kind: 'xid', xid: 1n }))).toEqual({ file: 'binlog.000003', pos: 300 });
    expect(positionAfter(at, ev('binlog.000007', 0, 0, { kind: 'xid', xid: 1n }))).toBe(at);
  });

  it('hands on everything but heartbeats and artificial rotates', () => {
    expect(isDelivered(ev('f', 0, 1, { kind: 'heartbeat', logFile: 'f' }))).toBe(false);
    expect(isDelivered(ev('f', 0, 0, { kind: 'rotate', nextFile: 'g', position: 4, artificial: true }))).toBe(false);
    expect(isDelivered(ev('f', 0, 9, { kind: 'rotate', nextFile: 'g', position: 4, artificial: false }))).toBe(true);
    expect(isDelivered(ev('f', 0, 9, { kind: 'xid', xid: 2n }))).toBe(true);
  });
});

describe('DecodeStep', () => {
  it('decodes real event bytes, hides heartbeats and artificial rotates, and follows the position across files', () => {
    const decoder = new BinlogDecoder({ file: '', checksum: 'none' });
    const step = new DecodeStep(decoder, { file: '', pos: 0 }, { file: 'binlog.000008', pos: 4 });
    const wire = [
      event(EventType.ROTATE, rotateBody(4, 'binlog.000007'), { nextPos: 0, flags: 0x20 }),
      event(EventType.HEARTBEAT, Buffer.from('binlog.000007'), { nextPos: 500 }),
      event(EventType.QUERY, queryBody('app', 'BEGIN'), { nextPos: 600 }),
      event(EventType.XID, xidBody(42n), { nextPos: 700 }),
      event(EventType.ROTATE, rotateBody(4, 'binlog.000008'), { nextPos: 760 }),
    ];
    const seen: Array<{ kind: string; position: BinlogPosition; reachedStop: boolean }> = [];
    for (const bytes of wire) {
      for (const e of step.decode(bytes)) seen.push({ kind: e.kind, position: step.position, reachedStop: step.reachedStop });
      if (bytes === wire[1]) expect(step.position).toEqual({ file: 'binlog.000007', pos: 500 });
    }
    expect(seen).toEqual([
      { kind: 'query', position: { file: 'binlog.000007', pos: 600 }, reachedStop: false },
      { kind: 'xid', position: { file: 'binlog.000007', pos: 700 }, reachedStop: false },
      { kind: 'rotate', position: { file: 'binlog.000008', pos: 4 }, reachedStop: true },
    ]);
  });

  it('moves the position as each event of a raw event is decoded, before handing it on', () => {
    const inner = [
      ev('binlog.000002', 100, 900, { kind: 'query', database: 'app', sql: 'BEGIN', threadId: 1, executionTime: 0, errorCode: 0 }),
      ev('binlog.000002', 100, 900, { kind: 'xid', xid: 5n }),
    ];
    const decoder: EventDecoder = { decodeAll: () => inner };
    const step = new DecodeStep(decoder, { file: 'binlog.000002', pos: 4 }, null);
    const it = step.decode(Buffer.alloc(0));
    expect(it.next().value).toBe(inner[0]);
    expect(step.position).toEqual({ file: 'binlog.000002', pos: 900 });
    expect(it.next().value).toBe(inner[1]);
    expect(it.next().done).toBe(true);
    expect(step.reachedStop).toBe(false);
  });

  it('reaches the stop at or after it, by file sequence first', () => {
    let next: BinlogEvent = ev('binlog.000009', 0, 0, { kind: 'xid', xid: 0n });
    const step = new DecodeStep({ decodeAll: () => [next] }, { file: 'binlog.000009', pos: 4 }, { file: 'binlog.000010', pos: 500 });
    const feed = (e: BinlogEvent) => {
      next = e;
      Array.from(step.decode(Buffer.alloc(0)));
      return step.reachedStop;
    };
    expect(feed(ev('binlog.000009', 100, 99_999, { kind: 'xid', xid: 1n }))).toBe(false);
    expect(feed(ev('binlog.000009', 0, 0, { kind: 'rotate', nextFile: 'binlog.000010', position: 4, artificial: false }))).toBe(false);
    expect(feed(ev('binlog.000010', 4, 499, { kind: 'xid', xid: 2n }))).toBe(false);
    expect(feed(ev('binlog.000010', 499, 500, { kind: 'xid', xid: 3n }))).toBe(true);
  });
});

describe('dumpFailure', () => {
  const at = { file: 'binlog.000004', pos: 0 };

  it('a purged binlog (1236) is BINLOG_PURGED and not retriable', () => {
    const failure = Object.assign(new Error('Could not find first log file name in binary log index file'), { errno: 1236 });
    const err = dumpFailure('shard-1', failure, at);
    expect(err).toBeInstanceOf(BinlogError);
    expect(err).toMatchObject({ code: 'BINLOG_PURGED', retriable: false, file: 'binlog.000004', pos: 0, cause: failure });
    expect(err.message).toBe('instance shard-1: Could not find first log file name in binary log index file (at binlog.000004:0)');
  });

  it('anything else is a retriable BINLOG_CONNECTION, including a 1236 for another reason and a heartbeat timeout', () => {
    const other1236 = Object.assign(new Error('binlog truncated in the middle of event'), { errno: 1236 });
    const purgedWording = Object.assign(new Error('log purged'), { errno: 2013 });
    const timeout = new HeartbeatTimeoutError(15_001, 5000);
    for (const failure of [other1236, purgedWording, timeout, new Error('Connection lost')]) {
      expect(dumpFailure('shard-1', failure, at)).toMatchObject({ code: 'BINLOG_CONNECTION', retriable: true, cause: failure });
    }
    expect(dumpFailure('shard-2', timeout, at).message).toBe(
      'instance shard-2: no event or heartbeat for 15001 ms (heartbeat period 5000 ms): connection presumed dead (at binlog.000004:0)',
    );
  });
});
