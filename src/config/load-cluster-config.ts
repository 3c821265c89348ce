import { existsSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../errors/index.js';
import { interpolateEnv } from './env-interpolate.js';
import { clusterConfigSchema, type ClusterConfig } from './cluster-schema.js';
import { parseConfigYaml } from './parse-config-yaml.js';
import { MAX_CONFIG_FILE_BYTES, readBoundedFile } from './bounded-file.js';
import { resolveConfigPaths } from './config-paths.js';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Picks the cluster file: the explicit path, else `$SHARDLINE_CONFIG`, else `./shardline.yaml` in
 * `cwd`. There is no silent default: the bundled demo config (`bundledClusterConfig`) is used only
 * when passed explicitly.
 * @throws {ConfigError} `CONFIG_ENV_MISSING` when `SHARDLINE_CONFIG` is set but empty,
 * `CONFIG_NOT_FOUND` when nothing applies.
 */
export function resolveConfigPath(explicit: string | undefined, env: Env = process.env, cwd: string = process.cwd()): string {
  if (explicit !== undefined && explicit.trim() !== '') return path.resolve(cwd, explicit);
  const fromEnv = env['SHARDLINE_CONFIG'];
  if (fromEnv !== undefined) {
    if (fromEnv.trim() === '') {
      throw new ConfigError('CONFIG_ENV_MISSING', 'SHARDLINE_CONFIG is set but empty: name a cluster file in it, or unset it', {
        details: { variable: 'SHARDLINE_CONFIG' },
      });
    }
    return path.resolve(cwd, fromEnv);
  }
  const local = path.join(cwd, 'shardline.yaml');
  if (existsSync(local)) return local;
  throw new ConfigError('CONFIG_NOT_FOUND', 'no cluster config: pass a file, set SHARDLINE_CONFIG, or create ./shardline.yaml', {
    details: { cwd },
  });
}

/** Formats zod issues as `field.path: message` lines. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`).join('; ');
}

/**
 * Validates an already parsed document (after `${ENV}` interpolation) and returns a frozen config;
 * relative file paths (TLS files, pinned keys) are resolved against `baseDir`.
 * @throws {ConfigError} `CONFIG_INVALID` naming every offending field.
 */
export function parseClusterConfig(document: unknown, env: Env = process.env, source = '(inline)', baseDir = process.cwd()): ClusterConfig {
  const interpolated = interpolateEnv(document, env);
  const result = clusterConfigSchema.safeParse(interpolated);
  if (!result.success) {
    throw new ConfigError('CONFIG_INVALID', `invalid cluster config ${source}: ${formatIssues(result.error.issues)}`, {
      details: { source, fields: result.error.issues.map((i) => i.path.join('.')) },
    });
  }
  resolveConfigPaths(result.data as unknown as Record<string, unknown>, baseDir);
  return deepFreeze(result.data);
}

/**
 * Reads, interpolates and validates a cluster YAML (or JSON) file.
 *
 * @example
 * const config = loadClusterConfig(resolveConfigPath(argv.config));
 * @throws {ConfigError} `CONFIG_NOT_FOUND`, `CONFIG_INVALID` or `CONFIG_ENV_MISSING`.
 */
export function loadClusterConfig(file: string, env: Env = process.env): ClusterConfig {
  let text: string;
  try {
    text = readBoundedFile(file, MAX_CONFIG_FILE_BYTES, 'cluster config').toString('utf8');
  } catch (cause) {
    if (cause instanceof ConfigError) throw cause;
    throw new ConfigError('CONFIG_NOT_FOUND', `cannot read cluster config ${file}: ${(cause as Error).message}`, { cause });
  }
  const document = parseConfigYaml(text, file);
  return parseClusterConfig(document, env, file, path.dirname(path.resolve(file)));
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
