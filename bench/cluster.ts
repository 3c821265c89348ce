import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// Starts the local cluster for a benchmark when it is not running (and stops it afterwards),
// with the same helper as the tests' global setup. Runs from build-bench/bench/.
interface ClusterControl {
  ensureCluster(): void;
  releaseCluster(): void;
}

export const withCluster = async <T>(fn: () => Promise<T>): Promise<T> => {
  const control = (await import(new URL('../../test/support/cluster-control.mjs', import.meta.url).href)) as ClusterControl;
  control.ensureCluster();
  try {
    return await fn();
  } finally {
    control.releaseCluster();
  }
};

/** Whether `shardline dev status` finds the local cluster up (asked up to 10 times, 2 s apart). */
async function clusterIsUp(): Promise<boolean> {
  const cli = path.resolve(import.meta.dirname, '..', '..', 'dist/cli/main.js');
  for (let i = 0; i < 10; i++) {
    try {
      execFileSync(process.execPath, [cli, 'dev', 'status'], { stdio: 'ignore' });
      return true;
    } catch {
      await sleep(2000);
    }
  }
  return false;
}

/** Runs `fn` on the running local cluster, or on one started (and stopped) for it. */
export const onCluster = async (fn: () => Promise<void>): Promise<void> => ((await clusterIsUp()) ? fn() : withCluster(fn));
