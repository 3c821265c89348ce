// Builds the native socket layer (native/) with node-gyp. Runs at `npm install`/`npm ci`.
// Never fails the install: without a compiler, headers, or when install scripts are refused,
// shardline uses its pure-JS socket layer and says so once (see `shardline doctor`).
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(root, 'native');
const status = path.join(nativeDir, 'build-status.json');

function record(ok, reason) {
  try {
    writeFileSync(status, `${JSON.stringify({ ok, reason, at: new Date().toISOString() })}\n`);
  } catch {
    /* read-only install: the loader reports its own reason */
  }
}

if (process.platform !== 'linux') {
  record(false, `the native socket layer is Linux-only (platform ${process.platform})`);
  process.exit(0);
}
if (process.env.SHARDLINE_SKIP_NATIVE === '1') {
  record(false, 'SHARDLINE_SKIP_NATIVE=1 skipped the native build');
  process.exit(0);
}
const candidates = [
  process.env.npm_config_node_gyp,
  path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter((p) => p && existsSync(p));
const [gyp] = candidates;
const args = gyp ? [gyp, 'rebuild'] : null;
const result = args
  ? spawnSync(process.execPath, args, {
      cwd: nativeDir,
      encoding: 'utf8',
      env: { ...process.env, npm_config_nodedir: process.env.npm_config_nodedir || (existsSync('/usr/include/node/node.h') ? '/usr' : '') },
    })
  : spawnSync('node-gyp', ['rebuild'], { cwd: nativeDir, encoding: 'utf8' });
if (result.status === 0 && existsSync(path.join(nativeDir, 'build', 'Release', 'shardline_socket.node'))) {
  record(true, 'built');
  process.stdout.write('shardline: native socket layer built\n');
} else {
  const why = (result.error?.message ?? `${result.stderr ?? ''}${result.stdout ?? ''}`)
    .trim()
    .split('\n')
    .filter((l) => /error|ERR!/i.test(l))
    .slice(0, 3)
    .join(' | ');
  record(false, `native build failed: ${why || `exit ${result.status}`}`);
  process.stderr.write(`shardline: native socket layer not built (${why || `exit ${result.status}`}); the pure-JS fallback will be used\n`);
}
