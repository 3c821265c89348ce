import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Absolute path of the installed shardline package (the checkout, in development). */
export const packageRoot: string = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The cluster file bundled with the package, used when neither --config nor $SHARDLINE_CONFIG is given. */
export const bundledClusterConfig: string = path.join(packageRoot, 'examples', 'local-cluster.yaml');
