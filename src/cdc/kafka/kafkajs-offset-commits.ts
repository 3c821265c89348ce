/** The slice of kafkajs 2.2.4's OffsetManager (src/consumer/offsetManager/index.js) the patch touches. */
export interface OffsetCommitter {
  commitOffsets(offsets?: { topics?: unknown[] }): Promise<void>;
}

const inFlight = Symbol('shardline.offsetCommits');

interface CommitState {
  running: Promise<void> | null;
  next: Promise<void> | null;
}

/**
 * OffsetManager#commitOffsets with concurrent commits of the resolved offsets coalesced: kafkajs
 * commits after every batch, and with the batches of a fetch applied together (one sink write,
 * see the sink runner) each of them sent its own OffsetCommit of the same offsets. Now a call made
 * while a commit runs waits for it and then joins one trailing commit of whatever is resolved by
 * then; every caller still returns only after a commit that holds its offsets succeeded (or with
 * that commit's error). Calls with explicit offsets are not touched.
 */
export function coalescedCommitOffsets(
  original: OffsetCommitter['commitOffsets'],
): (this: OffsetCommitter & { [inFlight]?: CommitState }, offsets?: { topics?: unknown[] }) => Promise<void> {
  return function commitOffsets(offsets) {
    if (offsets?.topics !== undefined) return original.call(this, offsets);
    const state = (this[inFlight] ??= { running: null, next: null });
    if (state.running === null) {
      const running: Promise<void> = original.call(this).finally(() => {
        if (state.running === running) state.running = null;
      });
      state.running = running;
      return running;
    }
    state.next ??= state.running
      .catch(() => undefined)
      .then(() => {
        state.next = null;
        return this.commitOffsets();
      });
    return state.next;
  };
}
