import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { packageRoot } from '../config/index.js';
import { createJsSocketLayer } from './js-socket-layer.js';
import { createNativeSocketLayer, type NativeBinding } from './native-socket-layer.js';
import type { SocketLayer } from './socket-layer.js';

let cached: SocketLayer | undefined;
let warned = false;

function buildStatusReason(): string {
  const status = path.join(packageRoot, 'native', 'build-status.json');
  try {
    const s = JSON.parse(readFileSync(status, 'utf8')) as { ok: boolean; reason: string };
    return s.reason.startsWith('native build failed')
      ? `${s.reason}; \`npm rebuild shardline\` retries it once a C++ toolchain is installed`
      : s.reason;
  } catch {
    return 'the native addon was never built (install scripts did not run; to build it: `npm rebuild shardline`)';
  }
}

/**
 * The socket layer for this process: the native addon when it loads, else the JS fallback
 * (with one warning). `SHARDLINE_SOCKET_LAYER=js` forces the fallback.
 */
export function loadSocketLayer(warn: (message: string) => void = (m) => process.emitWarning(m, 'ShardlineWarning')): SocketLayer {
  if (cached) return cached;
  if (process.env['SHARDLINE_SOCKET_LAYER'] === 'js') {
    cached = createJsSocketLayer('SHARDLINE_SOCKET_LAYER=js forces the JS layer');
    return cached;
  }
  const { layer, fallback } = loadSocketLayerFrom(DEFAULT_ADDON);
  cached = layer;
  if (fallback && !warned) {
    warned = true;
    warn(`shardline: using the JS socket layer (${layer.reason}); dead connections and partitions are detected more slowly`);
  }
  return cached;
}

const DEFAULT_ADDON = path.join(packageRoot, 'native', 'build', 'Release', 'shardline_socket.node');

/** Loads the addon at `file`, or explains why not and returns the JS layer. */
export function loadSocketLayerFrom(file: string): { layer: SocketLayer; fallback: boolean } {
  let reason: string;
  if (process.platform !== 'linux') reason = `the native socket layer is Linux-only (platform ${process.platform})`;
  else if (!existsSync(file)) reason = file === DEFAULT_ADDON ? buildStatusReason() : `${file} does not exist`;
  else {
    try {
      const binding = createRequire(import.meta.url)(file) as NativeBinding;
      return { layer: createNativeSocketLayer(binding, `loaded ${path.relative(packageRoot, file)}`), fallback: false };
    } catch (err) {
      reason = `loading ${file} failed: ${(err as Error).message}`;
    }
  }
  return { layer: createJsSocketLayer(reason), fallback: true };
}
