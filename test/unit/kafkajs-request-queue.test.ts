import { jest } from '@jest/globals';
import { scheduleCheckPendingRequests } from '../../src/cdc/kafka/kafkajs-request-queue.js';

const queue = (pending: unknown[], throttledUntil = -1) => ({
  pending,
  throttledUntil,
  throttleCheckTimeoutId: null as ReturnType<typeof setTimeout> | null,
  checks: 0,
  checkPendingRequests() {
    this.checks++;
    scheduleCheckPendingRequests.call(this);
  },
});

describe('RequestQueue#scheduleCheckPendingRequests (kafkajs 2.2.4 idle loop removed)', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('arms no timer when nothing waits, so an idle connection costs nothing', () => {
    const q = queue([]);
    q.checkPendingRequests();
    jest.advanceTimersByTime(1000);
    expect(q.throttleCheckTimeoutId).toBeNull();
    expect(q.checks).toBe(1); // kafkajs 2.2.4 re-checked every ~1 ms: about a thousand here
  });

  it('checks again when the broker’s throttle ends while requests wait, and stops once they are sent', () => {
    const q = queue(['request'], Date.now() + 250);
    scheduleCheckPendingRequests.call(q);
    jest.advanceTimersByTime(249);
    expect(q.checks).toBe(0);
    q.pending = []; // sent by the check
    jest.advanceTimersByTime(1);
    expect(q.checks).toBe(1);
    jest.advanceTimersByTime(1000);
    expect(q.checks).toBe(1);
  });

  it('polls every 10 ms while requests wait without a throttle (in-flight limit), never arms two timers', () => {
    const q = queue(['a', 'b']);
    scheduleCheckPendingRequests.call(q);
    const first = q.throttleCheckTimeoutId;
    scheduleCheckPendingRequests.call(q);
    expect(q.throttleCheckTimeoutId).toBe(first);
    jest.advanceTimersByTime(30);
    expect(q.checks).toBe(3);
  });
});
