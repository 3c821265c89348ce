import { readFileSync, statSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

const hostRequire = createRequire(import.meta.url);

/** Loads files of one CommonJS package into a module graph nobody else shares. */
export type PrivateRequire = (file: string) => unknown;

function resolveFile(base: string): string {
  for (const candidate of [base, `${base}.js`, `${base}.json`, path.join(base, 'index.js')]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // next candidate
    }
  }
  throw new Error(`cannot resolve ${base}`);
}

/**
 * A module loader of its own for a CommonJS package without dependencies (kafkajs): its files are
 * compiled into a private cache, so the host's `require` cache — and any copy of the package the
 * host loaded itself, even from the same files — is neither read nor changed. `replaced` maps an
 * absolute file name to the exports its `require` returns instead of the file; `patched` maps one
 * to a function of its source text that returns the source to compile instead; `wrapped` maps one
 * to a function of the exports it loaded that returns the exports every `require` of it gets.
 * Built-in modules come from Node; any other bare specifier is an error.
 */
export function privateCommonJs(
  replaced: ReadonlyMap<string, unknown>,
  patched: ReadonlyMap<string, (source: string) => string> = new Map(),
  wrapped: ReadonlyMap<string, (exports: unknown) => unknown> = new Map(),
): PrivateRequire {
  const cache = new Map<string, { exports: unknown }>();
  // kafkajs requires protocol modules inside functions (every fetch and produce request): resolve
  // each path once, as Node's own require does, instead of stat-ing files on every call.
  const resolved = new Map<string, string>();
  const resolve = (base: string): string => {
    let file = resolved.get(base);
    if (file === undefined) resolved.set(base, (file = resolveFile(base)));
    return file;
  };
  const load = (file: string): unknown => {
    if (replaced.has(file)) return replaced.get(file);
    const cached = cache.get(file);
    if (cached) return cached.exports;
    const module = { exports: {} as unknown };
    cache.set(file, module);
    const original = readFileSync(file, 'utf8');
    const source = patched.get(file)?.(original) ?? original;
    if (file.endsWith('.json')) {
      module.exports = JSON.parse(source);
      return module.exports;
    }
    const dirname = path.dirname(file);
    // kafkajs requires modules inside hot functions: each specifier is resolved once per module.
    const files = new Map<string, string>();
    const requireHere = (specifier: string): unknown => {
      const known = files.get(specifier);
      if (known !== undefined) return load(known);
      if (isBuiltin(specifier)) return hostRequire(specifier);
      if (!specifier.startsWith('.')) throw new Error(`${file} requires ${specifier}, which a private load does not provide`);
      const target = resolve(path.resolve(dirname, specifier));
      files.set(specifier, target);
      return load(target);
    };
    const params = ['exports', 'require', 'module', '__filename', '__dirname'];
    const body = vm.compileFunction(source, params, { filename: file });
    body.call(module.exports, module.exports, requireHere, module, file, dirname);
    const wrap = wrapped.get(file);
    if (wrap) module.exports = wrap(module.exports);
    return module.exports;
  };
  return (file) => load(resolve(file));
}
