import { releaseCluster } from './cluster-control.mjs';

export default function globalTeardown() {
  releaseCluster();
}
