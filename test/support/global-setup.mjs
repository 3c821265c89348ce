import { ensureCluster } from './cluster-control.mjs';

export default function globalSetup() {
  ensureCluster();
}
