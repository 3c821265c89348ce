// Starts the local cluster for the integration tests when it is not running, and stops it
// afterwards only if this run started it. Uses the built CLI (`npm test` builds first).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const stateRoot = process.env.SHARDLINE_STATE_DIR || path.join(root, '.shardline');
const marker = path.join(stateRoot, 'run', 'started-by-tests');

function shardline(...args) {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` (npm test does it for you)`);
  return spawnSync(process.execPath, [cli, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
}

export function ensureCluster() {
  if (shardline('dev', 'status').status === 0) return;
  process.stderr.write('\n[shardline tests] local cluster not running: starting it (dev up)\n');
  const up = shardline('dev', 'up');
  process.stderr.write(up.stdout ?? '');
  if (up.status !== 0) throw new Error(`shardline dev up failed with exit ${up.status}`);
  mkdirSync(path.dirname(marker), { recursive: true });
  writeFileSync(marker, `${new Date().toISOString()}\n`);
}

export function releaseCluster() {
  if (!existsSync(marker) || process.env.SHARDLINE_KEEP_CLUSTER === '1') return;
  const down = shardline('dev', 'down');
  process.stderr.write(`[shardline tests] ${down.stdout ?? ''}`);
  rmSync(marker, { force: true });
}
