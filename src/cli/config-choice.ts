import { existsSync } from 'node:fs';
import path from 'node:path';
import { bundledClusterConfig, loadClusterConfig, packageRoot, type ClusterConfig } from '../config/index.js';
import { ConfigError, UsageError } from '../errors/index.js';

/** Where the cluster config of a command came from. */
export type ConfigSource = '--config' | 'SHARDLINE_CONFIG' | 'project file' | 'bundled demo config';

/** The config file a command uses and why. */
export interface ConfigChoice {
  path: string;
  source: ConfigSource;
}

/** The project-local default, looked up in the working directory. */
export const PROJECT_CONFIG_FILE = 'shardline.yaml';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Whether `cwd` is inside shardline's own source checkout (a git work tree that is not an
 * installed copy under node_modules): the only place where the bundled demo config and
 * migrations are defaults.
 */
export function inOwnCheckout(cwd: string, root: string = packageRoot): boolean {
  const rel = path.relative(root, cwd);
  const inside = rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  return inside && existsSync(path.join(root, '.git')) && !root.split(path.sep).includes('node_modules');
}

/**
 * Picks the cluster config of a command, in this order: `--config FILE`; `$SHARDLINE_CONFIG`
 * (set but empty is an error, never "unset"); `./shardline.yaml` in the working directory; the
 * bundled demo config — only for the local-cluster commands (`dev`, `demo`) or inside
 * shardline's own checkout. Otherwise there is no default: a command must never reach a real
 * cluster with the demo's topology and passwords by accident.
 * @throws {UsageError} for an empty `--config`.
 * @throws {ConfigError} `CONFIG_ENV_MISSING` for an empty `SHARDLINE_CONFIG`, `CONFIG_NOT_FOUND` when nothing applies.
 */
export function chooseConfig(
  explicit: string | undefined,
  options: { env?: Env; cwd?: string; localCluster?: boolean } = {},
): ConfigChoice {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  if (explicit !== undefined) {
    if (explicit.trim() === '') throw new UsageError('--config needs a file name, got an empty string');
    return { path: path.resolve(cwd, explicit), source: '--config' };
  }
  const fromEnv = env['SHARDLINE_CONFIG'];
  if (fromEnv !== undefined) {
    if (fromEnv.trim() === '') {
      throw new ConfigError('CONFIG_ENV_MISSING', 'SHARDLINE_CONFIG is set but empty: name a cluster file in it, or unset it', {
        details: { variable: 'SHARDLINE_CONFIG' },
      });
    }
    return { path: path.resolve(cwd, fromEnv), source: 'SHARDLINE_CONFIG' };
  }
  const local = path.join(cwd, PROJECT_CONFIG_FILE);
  if (existsSync(local)) return { path: local, source: 'project file' };
  if (options.localCluster || inOwnCheckout(cwd)) return { path: bundledClusterConfig, source: 'bundled demo config' };
  throw new ConfigError(
    'CONFIG_NOT_FOUND',
    `no cluster config: pass --config FILE, set SHARDLINE_CONFIG, or create ./${PROJECT_CONFIG_FILE} (the bundled demo config is a default only for \`shardline dev\` and \`shardline demo\`)`,
    { details: { cwd } },
  );
}

/** The one stderr line that says which config a command uses. */
export function announceConfig(choice: ConfigChoice): void {
  process.stderr.write(`shardline: config ${choice.path} (${choice.source})\n`);
}

/**
 * Chooses, loads and validates the cluster config of a command, then says on stderr which one
 * it uses (after loading, so an error names the file once).
 */
export function loadCommandConfig(
  explicit: string | undefined,
  options: { localCluster?: boolean } = {},
): { config: ClusterConfig; choice: ConfigChoice } {
  const choice = chooseConfig(explicit, options);
  const config = loadClusterConfig(choice.path);
  announceConfig(choice);
  return { config, choice };
}
