/** The slice of kafkajs 2.2.4's RequestQueue (src/network/requestQueue/index.js) the fix touches. */
interface RequestQueueState {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  checkPendingRequests(): void;
}

/** kafkajs's CHECK_PENDING_REQUESTS_INTERVAL (ms). */
const CHECK_PENDING_MS = 10;

/**
 * RequestQueue#scheduleCheckPendingRequests without kafkajs 2.2.4's idle timer loop (kafkajs
 * issues #1556 and #1704, unreleased fix #1667): with nothing pending it re-armed a timer of
 * `throttledUntil - now` (negative, so ~1 ms) after every check, for ever, on every broker
 * connection — most of an idle worker's CPU. A check is only needed while requests wait:
 * `push` schedules one when it queues a request, and every answered request checks again.
 */
export function scheduleCheckPendingRequests(this: RequestQueueState): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const untilUnthrottled = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    untilUnthrottled > 0 ? untilUnthrottled : CHECK_PENDING_MS,
  );
}

/** The slice of a kafkajs 2.2.4 SocketRequest the request-timeout check reads. */
interface InflightRequest {
  sentAt: number | null;
  requestTimeout: number;
  timeoutRequest(): void;
}

/** The slice of kafkajs 2.2.4's RequestQueue the request-timeout patch touches. */
export interface RequestTimeoutQueue {
  enforceRequestTimeout: boolean;
  inflight: Map<number, InflightRequest>;
  isConnected(): boolean;
  requestTimeoutIntervalId: ReturnType<typeof setTimeout> | null;
  /** Patch state: whether the queue watches its requests' timeouts (between connect and destroy). */
  timeoutsWatched?: boolean;
  /** Patch state: when the armed check fires (ms since the epoch; Infinity: none armed). */
  timeoutCheckAt?: number;
  destroy(): void;
  sendSocketRequest(request: unknown): void;
  scheduleRequestTimeoutCheck(): void;
}

/** A request in flight whose send threw has no `sentAt`: due at once, as kafkajs's `Date.now() - null` made it. */
const deadlineOf = (r: InflightRequest) => (r.sentAt ?? 0) + r.requestTimeout;

function armTimeoutCheck(queue: RequestTimeoutQueue, at: number): void {
  if (!queue.timeoutsWatched || at === Infinity || at >= (queue.timeoutCheckAt ?? Infinity)) return;
  if (queue.requestTimeoutIntervalId) clearTimeout(queue.requestTimeoutIntervalId);
  queue.timeoutCheckAt = at;
  queue.requestTimeoutIntervalId = setTimeout(() => checkTimeouts(queue), Math.max(1, at - Date.now() + 1));
}

function earliestDeadline(queue: RequestTimeoutQueue): number {
  let at = Infinity;
  for (const request of queue.inflight.values()) at = Math.min(at, deadlineOf(request));
  return at;
}

function checkTimeouts(queue: RequestTimeoutQueue): void {
  queue.requestTimeoutIntervalId = null;
  queue.timeoutCheckAt = Infinity;
  const now = Date.now();
  for (const request of queue.inflight.values()) if (now > deadlineOf(request)) request.timeoutRequest();
  if (!queue.isConnected()) queue.destroy();
  else armTimeoutCheck(queue, earliestDeadline(queue));
}

/**
 * RequestQueue's request timeouts checked when the oldest in-flight request is due, instead of
 * kafkajs 2.2.4's 100 ms interval on every broker connection for as long as it is open (a worker
 * keeps ~20 connections: ~200 event-loop wake-ups a second with nothing to do). A request still
 * times out once `requestTimeout` has passed since it was sent (kafkajs: within the next 100 ms);
 * a connection found closed at a check stops checking, as before. Installed on the prototype.
 */
export function patchRequestTimeoutCheck(proto: RequestTimeoutQueue): void {
  const { destroy, sendSocketRequest } = proto;
  if (typeof destroy !== 'function' || typeof sendSocketRequest !== 'function' || typeof proto.scheduleRequestTimeoutCheck !== 'function')
    throw new Error('src/network/requestQueue has no destroy, sendSocketRequest and scheduleRequestTimeoutCheck to replace');
  proto.scheduleRequestTimeoutCheck = function (this: RequestTimeoutQueue) {
    if (!this.enforceRequestTimeout) return;
    this.destroy();
    this.timeoutsWatched = true;
    armTimeoutCheck(this, earliestDeadline(this));
  };
  proto.sendSocketRequest = function (this: RequestTimeoutQueue, request: unknown) {
    try {
      sendSocketRequest.call(this, request);
    } finally {
      if (this.timeoutsWatched && this.inflight.has((request as { correlationId: number }).correlationId))
        armTimeoutCheck(this, deadlineOf(request as InflightRequest));
    }
  };
  proto.destroy = function (this: RequestTimeoutQueue) {
    destroy.call(this);
    this.requestTimeoutIntervalId = null;
    this.timeoutsWatched = false;
    this.timeoutCheckAt = Infinity;
  };
}
