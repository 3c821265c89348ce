import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'shardline') return dir;
      } catch {
        /* not ours */
      }
    }
    if (path.dirname(dir) === dir) return path.resolve(start, '..', '..');
  }
}

/** Absolute path of the installed shardline package (the checkout, in development). */
export const packageRoot: string = findRoot(path.dirname(fileURLToPath(import.meta.url)));

/** The cluster file bundled with the package, used when neither --config nor $SHARDLINE_CONFIG is given. */
export const bundledClusterConfig: string = path.join(packageRoot, 'examples', 'local-cluster.yaml');
