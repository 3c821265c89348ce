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
