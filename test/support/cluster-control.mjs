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

/** Services of the cluster that are up now (healthy or at least running). */
function servicesUp() {
  const status = shardline('dev', 'status', '--json');
  try {
    return JSON.parse(status.stdout)
      .filter((s) => s.healthy || s.pid)
      .map((s) => s.name);
  } catch {
    return [];
  }
}

/**
 * The project's migrations on the cluster (idempotent: ~2 s when applied). Every test can count on
 * the logical tables whatever order jest runs the files in — on a fresh cluster nothing else made them.
 */
function migrate() {
  const run = shardline('migrate');
  if (run.status !== 0) throw new Error(`shardline migrate failed with exit ${run.status}: ${run.stdout ?? ''}`);
}

export function ensureCluster() {
  if (shardline('dev', 'status').status === 0) return migrate();
  startCluster();
  migrate();
}

function startCluster() {
  const up0 = servicesUp();
  process.stderr.write(
    up0.length
      ? `\n[shardline tests] local cluster partly down (up: ${up0.join(', ')}): healing it (dev up); it stays up afterwards\n`
      : '\n[shardline tests] local cluster not running: starting it (dev up)\n',
  );
  const up = shardline('dev', 'up');
  process.stderr.write(up.stdout ?? '');
  if (up.status !== 0) throw new Error(`shardline dev up failed with exit ${up.status}`);
  if (up0.length) return; // someone else's cluster (perhaps in the middle of a fault test): never ours to stop
  mkdirSync(path.dirname(marker), { recursive: true });
  writeFileSync(marker, `${new Date().toISOString()}\n`);
}

export function releaseCluster() {
  if (!existsSync(marker) || process.env.SHARDLINE_KEEP_CLUSTER === '1') return;
  const down = shardline('dev', 'down');
  process.stderr.write(`[shardline tests] ${down.stdout ?? ''}`);
  rmSync(marker, { force: true });
}
