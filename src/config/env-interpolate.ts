import { ConfigError } from '../errors/index.js';

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of a parsed config document.
 * A `${VAR}` without default whose variable is unset or empty is an error naming the variable
 * and the field (and saying which), so a missing secret never silently becomes an empty
 * password. `${VAR:-default}` takes the default when VAR is unset or empty, as in POSIX shells.
 * The copy keeps every key as data (`__proto__` too) and refuses a document that contains itself
 * (a YAML alias to an enclosing node).
 * @throws {ConfigError} `CONFIG_ENV_MISSING` for a missing variable, `CONFIG_INVALID` for a cyclic document.
 */
export function interpolateEnv(value: unknown, env: Readonly<Record<string, string | undefined>>, path: string[] = []): unknown {
  return interpolate(value, env, path, new Set());
}

function interpolate(value: unknown, env: Readonly<Record<string, string | undefined>>, path: string[], enclosing: Set<object>): unknown {
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
  if (value === null || typeof value !== 'object') return value;
  if (enclosing.has(value)) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `config field ${path.join('.') || '(root)'} contains itself (a YAML alias to an enclosing node)`,
      {
        details: { field: path.join('.') },
      },
    );
  }
  enclosing.add(value);
  try {
    if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, [...path, String(i)], enclosing));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, {
        value: interpolate(v, env, [...path, k], enclosing),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  } finally {
    enclosing.delete(value);
  }
}
