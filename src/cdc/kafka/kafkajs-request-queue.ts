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
