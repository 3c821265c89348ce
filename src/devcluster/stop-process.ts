import { isSameProcess } from './process-table.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Stops one process we started: SIGTERM, wait for it to exit, SIGKILL after `graceMs`.
 * Does nothing when the pid is no longer the recorded process.
 * @returns true when it had to kill.
 */
export async function stopProcess(pid: number, startTime: string | null, graceMs = 60_000): Promise<boolean> {
  if (!isSameProcess(pid, startTime)) return false;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isSameProcess(pid, startTime)) return false;
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  while (isSameProcess(pid, startTime)) await sleep(50);
  return true;
}
