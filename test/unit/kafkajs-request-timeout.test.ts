import { jest } from '@jest/globals';
import {
  patchRequestTimeoutCheck,
  scheduleCheckPendingRequests,
  type RequestTimeoutQueue,
} from '../../src/cdc/kafka/kafkajs-request-queue.js';

// kafkajs 2.2.4's own RequestQueue and SocketRequest, loaded through Jest's module registry (so
// they see its fake timers and clock), a fresh copy per test: the prototype patch stays in it.
const QUEUE_MODULE: string = '@shardline/kafkajs/src/network/requestQueue/index.js';
async function loadQueueClass(): Promise<QueueClass> {
  let loaded: QueueClass | undefined;
  await jest.isolateModulesAsync(async () => {
    loaded = ((await import(QUEUE_MODULE)) as { default: QueueClass }).default;
  });
  return loaded!;
}

interface Queue extends RequestTimeoutQueue {
  push(request: { entry: unknown; expectResponse: boolean; sendRequest: () => void; requestTimeout?: number }): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer | null; size: number }): void;
}
type QueueClass = new (options: Record<string, unknown>) => Queue;

async function setUp(patched: boolean) {
  const RequestQueue = await loadQueueClass();
  // as the loader installs it: kafkajs's own pending-request loop would keep a timer armed for ever
  (RequestQueue.prototype as unknown as Record<string, unknown>)['scheduleCheckPendingRequests'] = scheduleCheckPendingRequests;
  if (patched) patchRequestTimeoutCheck(RequestQueue.prototype);
  let connected = true;
  const noop = () => undefined;
  const queue = new RequestQueue({
    maxInFlightRequests: null,
    requestTimeout: 30_000,
    enforceRequestTimeout: true,
    clientId: 'test',
    broker: 'broker:9092',
    logger: { debug: noop, info: noop, warn: noop, error: noop },
    isConnected: () => connected,
  });
  const outcomes = new Map<number, string>();
  let next = 1;
  const send = (requestTimeout?: number, sendRequest: () => void = noop) => {
    const correlationId = next++;
    queue.push({
      entry: {
        correlationId,
        apiKey: 1,
        apiName: 'Fetch',
        apiVersion: 11,
        resolve: () => outcomes.set(correlationId, 'answered'),
        reject: (err: Error) => outcomes.set(correlationId, `${Date.now() - 1_000_000} ms: ${err.message}`),
      },
      expectResponse: true,
      sendRequest,
      ...(requestTimeout === undefined ? {} : { requestTimeout }),
    });
    return correlationId;
  };
  const answer = (correlationId: number) => queue.fulfillRequest({ correlationId, payload: Buffer.alloc(0), size: 0 });
  return { queue, send, answer, outcomes, disconnect: () => (connected = false) };
}

describe('kafkajs RequestQueue request timeouts, checked when one is due (patchRequestTimeoutCheck)', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('arms no timer on a connected queue with nothing in flight (kafkajs: a 100 ms interval for ever)', async () => {
    for (const patched of [false, true]) {
      const { queue } = await setUp(patched);
      queue.scheduleRequestTimeoutCheck();
      expect(jest.getTimerCount()).toBe(patched ? 0 : 1);
      queue.destroy();
      expect(jest.getTimerCount()).toBe(0);
    }
  });

  it('times a request out once its timeout has passed, as kafkajs does, and then stops', async () => {
    const { queue, send, outcomes } = await setUp(true);
    queue.scheduleRequestTimeoutCheck();
    const id = send();
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(30_000);
    expect(outcomes.get(id)).toBeUndefined();
    jest.advanceTimersByTime(1);
    expect(outcomes.get(id)).toBe('30001 ms: Request Fetch(key: 1, version: 11) timed out');
    expect(queue.inflight.size).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('answered requests never time out; the check moves on to the oldest request still in flight', async () => {
    const { queue, send, answer, outcomes } = await setUp(true);
    queue.scheduleRequestTimeoutCheck();
    const first = send();
    jest.advanceTimersByTime(10_000);
    const second = send();
    const long = send(60_000);
    answer(first);
    jest.advanceTimersByTime(20_001); // first's deadline: nothing to time out, re-armed for second's
    expect(outcomes.get(first)).toBe('answered');
    expect(outcomes.has(second)).toBe(false);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(10_000);
    expect(outcomes.get(second)).toBe('40001 ms: Request Fetch(key: 1, version: 11) timed out');
    expect(outcomes.has(long)).toBe(false);
    jest.advanceTimersByTime(30_000);
    expect(outcomes.get(long)).toBe('70001 ms: Request Fetch(key: 1, version: 11) timed out');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('a request with an earlier deadline than the armed check re-arms it', async () => {
    const { queue, send, outcomes } = await setUp(true);
    queue.scheduleRequestTimeoutCheck();
    const long = send(60_000);
    const short = send();
    jest.advanceTimersByTime(30_001);
    expect(outcomes.get(short)).toBe('30001 ms: Request Fetch(key: 1, version: 11) timed out');
    expect(outcomes.has(long)).toBe(false);
  });

  it('requests sent before the connection is watched, then watched on connect; none after destroy', async () => {
    const { queue, send, outcomes } = await setUp(true);
    const early = send();
    expect(jest.getTimerCount()).toBe(0);
    queue.scheduleRequestTimeoutCheck();
    jest.advanceTimersByTime(30_001);
    expect(outcomes.get(early)).toBe('30001 ms: Request Fetch(key: 1, version: 11) timed out');
    queue.destroy();
    const late = send();
    jest.advanceTimersByTime(120_000);
    expect(outcomes.has(late)).toBe(false);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('a request whose socket write threw is timed out at the next check, as kafkajs does', async () => {
    const { queue, send, outcomes } = await setUp(true);
    queue.scheduleRequestTimeoutCheck();
    const failingWrite = () => {
      throw new Error('write EPIPE');
    };
    expect(() => send(undefined, failingWrite)).toThrow('write EPIPE');
    expect(queue.inflight.has(1)).toBe(true); // correlation id 1, left in flight by kafkajs
    jest.advanceTimersByTime(1);
    expect(outcomes.get(1)).toBe('1 ms: Request Fetch(key: 1, version: 11) timed out');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('a check that finds the connection closed stops checking, as kafkajs does', async () => {
    const { queue, send, disconnect } = await setUp(true);
    queue.scheduleRequestTimeoutCheck();
    send();
    send(60_000);
    disconnect();
    jest.advanceTimersByTime(30_001);
    expect(queue.inflight.size).toBe(1);
    expect(jest.getTimerCount()).toBe(0);
  });
});
