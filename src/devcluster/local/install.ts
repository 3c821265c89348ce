import path from 'node:path';
import { packageRoot } from '../../config/index.js';
import { DevClusterError } from '../../errors/index.js';
import { run } from './spawn.js';

/** Which install script provides a component. */
export type Component = 'mysql80' | 'mysql97' | 'kafka' | 'elasticsearch' | 'prometheus';

/**
 * Runs `scripts/install-<component>.sh` (idempotent, cached machine-wide) and returns the
 * folder it installed into.
 * @throws {DevClusterError} `DEV_JAVA_MISSING` or `DEV_INSTALL_FAILED` with the script's own words.
 */
export async function installComponent(component: Component, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const script = path.join(packageRoot, 'scripts', `install-${component}.sh`);
  const result = await run('bash', [script], { env });
  const home = result.stdout.trim().split('\n').pop() ?? '';
  if (result.code === 0 && home) return home;
  const why = result.stderr.trim().split('\n').slice(-8).join('\n');
  throw new DevClusterError(result.code === 3 ? 'DEV_JAVA_MISSING' : 'DEV_INSTALL_FAILED', `installing ${component} failed:\n${why}`, {
    details: { component, exitCode: result.code },
  });
}
