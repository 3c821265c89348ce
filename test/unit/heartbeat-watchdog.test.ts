import { ShardlineError } from '../../src/errors/index.js';
import { HeartbeatTimeoutError, HeartbeatWatchdog } from '../../src/cdc/binlog/syncer/heartbeat-watchdog.js';
import { ManualClock } from '../support/manual-clock.js';

function watchdog(heartbeatMs = 1000, missedHeartbeats?: number) {
  const clock = new ManualClock();
  const fired: HeartbeatTimeoutError[] = [];
  const dog = new HeartbeatWatchdog({ heartbeatMs, missedHeartbeats, clock, onTimeout: (e) => fired.push(e) });
  return { clock, fired, dog };
}

describe('HeartbeatWatchdog', () => {
  it('fires once with a typed, retriable error when silent longer than three heartbeat periods', async () => {
    const { clock, fired, dog } = watchdog(1000);
    dog.start();
    await clock.advance(3000);
    expect(fired).toEqual([]); // exactly three periods is still allowed
    await clock.advance(1);
    expect(fired).toHaveLength(1);
    const err = fired[0]!;
    expect(err).toBeInstanceOf(HeartbeatTimeoutError);
    expect(err).toBeInstanceOf(ShardlineError);
    expect(err).toMatchObject({ code: 'BINLOG_CONNECTION', retriable: true, silentMs: 3001 });
    expect(err.message).toBe('no event or heartbeat for 3001 ms (heartbeat period 1000 ms): connection presumed dead');
    expect(dog.watching).toBe(false);
    expect(clock.pending).toBe(0);
    await clock.advance(60_000);
    expect(fired).toHaveLength(1);
  });

  it('counts the silence from the last activity', async () => {
    const { clock, fired, dog } = watchdog(1000);
    dog.start();
    for (let i = 0; i < 10; i++) {
      await clock.advance(2900);
      dog.activity();
    }
    expect(fired).toEqual([]);
    await clock.advance(3000);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired.map((e) => e.silentMs)).toEqual([3001]);
  });

  it('keeps at most one timer however many events arrive', async () => {
    const { clock, dog } = watchdog(1000);
    dog.start();
    for (let i = 0; i < 1000; i++) {
      dog.activity();
      await clock.advance(7);
      expect(clock.pending).toBeLessThanOrEqual(1);
    }
    expect(clock.pending).toBe(1);
  });

  it('never fires while paused, and counts afresh from resume', async () => {
    const { clock, fired, dog } = watchdog(1000);
    dog.start();
    await clock.advance(2500);
    dog.pause();
    expect(clock.pending).toBe(0);
    await clock.advance(3_600_000);
    expect(fired).toEqual([]);
    dog.resume();
    expect(dog.watching).toBe(true);
    await clock.advance(3000);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired.map((e) => e.silentMs)).toEqual([3001]);
  });

  it('stop ends it for good: no firing, no timer, resume and start do nothing', async () => {
    const { clock, fired, dog } = watchdog(1000);
    dog.start();
    await clock.advance(2000);
    dog.stop();
    expect(clock.pending).toBe(0);
    dog.resume();
    dog.start();
    await clock.advance(60_000);
    expect(fired).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('does nothing before start', async () => {
    const { clock, fired, dog } = watchdog(1000);
    expect(clock.pending).toBe(0);
    await clock.advance(60_000);
    expect(fired).toEqual([]);
    expect(dog.watching).toBe(false);
  });

  it('takes the number of missed heartbeats it tolerates', async () => {
    const { clock, fired, dog } = watchdog(200, 5);
    dog.start();
    await clock.advance(1000);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired).toHaveLength(1);
    expect(fired[0]!.message).toContain('heartbeat period 200 ms');
  });

  it('refuses a limit that is not positive', () => {
    expect(() => new HeartbeatWatchdog({ heartbeatMs: 0, onTimeout: () => undefined })).toThrow(RangeError);
  });
});
