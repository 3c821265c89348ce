import { ReshardError } from '../errors/index.js';
import type { RawRowSession } from '../net/index.js';

/** The name of a move's lock on its target instance (GET_LOCK takes 64 characters at most). */
export function moveLockName(id: string): string {
  return `shardline.reshard.${id}`.slice(0, 64);
}

/**
 * Takes the move's lock on `s`, a session of the move's target kept open while the move runs or
 * is aborted: one process at a time works on a move. Closing the session (or the process dying)
 * releases it.
 * @throws {ReshardError} RESHARD_FAILED (retriable) when another process holds it
 */
export async function holdMoveLock(s: RawRowSession, id: string): Promise<void> {
  const rows = await s.query<Record<string, unknown>>('SELECT GET_LOCK(?, 0) AS got', [moveLockName(id)]);
  if (Number(rows[0]?.['got']) !== 1)
    throw new ReshardError(
      'RESHARD_FAILED',
      `move ${id} is being run by another process (it holds the move's lock on the target): wait for it or stop it first`,
      {
        retriable: true,
      },
    );
}
