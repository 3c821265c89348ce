import { ConfigError } from '../errors/index.js';

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of a parsed config document.
 * A `${VAR}` without default whose variable is unset or empty is an error naming the variable
 * and the field (and saying which), so a missing secret never silently becomes an empty
 * password. `${VAR:-default}` takes the default when VAR is unset or empty, as in POSIX shells.
 */
export function interpolateEnv(value: unknown, env: Readonly<Record<string, string | undefined>>, path: string[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(
        'CONFIG_ENV_MISSING',
        `config field ${path.join('.') || '(root)'} needs environment variable ${name}, which is ${found === '' ? 'set but empty (give it a value, or write ${' + name + ':-default})' : 'not set'}`,
        { details: { field: path.join('.'), variable: name, empty: found === '' } },
      );
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolateEnv(item, env, [...path, String(i)]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateEnv(v, env, [...path, k]);
    return out;
  }
  return value;
}
