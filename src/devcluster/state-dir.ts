import { createHash } from 'node:crypto';
import path from 'node:path';
import { packageRoot } from '../config/index.js';
import { ensurePrivateDir } from './private-dir.js';

/** Folders of one local cluster: run (pid/state files), logs, data. Ignored by git. */
export interface StateDir {
  root: string;
  run: string;
  logs: string;
  data(service: string): string;
  /** A unix socket path short enough for sun_path (108 bytes). */
  socket(service: string): string;
}

/** The cluster's state folder: `$SHARDLINE_STATE_DIR`, else `.shardline/` in the package root. */
export function stateDir(root = process.env['SHARDLINE_STATE_DIR'] || path.join(packageRoot, '.shardline')): StateDir {
  const abs = path.resolve(root);
  const run = path.join(abs, 'run');
  const logs = path.join(abs, 'logs');
  const shortRun = path.join('/tmp', `shardline-${createHash('sha1').update(abs).digest('hex').slice(0, 10)}`);
  return {
    root: abs,
    run,
    logs,
    data: (service) => path.join(abs, 'data', service),
    socket: (service) => {
      const preferred = path.join(run, `${service}.sock`);
      if (preferred.length < 100) return preferred;
      ensurePrivateDir(shortRun, { noSymlink: true });
      return path.join(shortRun, `${service}.sock`);
    },
  };
}

/**
 * Creates the state folder and its run and logs folders with mode 0700, or checks the existing
 * ones: owned by this user, writable by nobody else.
 * @throws {DevClusterError} `DEV_STATE_DIR_UNSAFE`.
 */
export function ensureStateDir(dir: StateDir): void {
  ensurePrivateDir(dir.root);
  ensurePrivateDir(dir.run);
  ensurePrivateDir(dir.logs);
}
