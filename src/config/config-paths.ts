import path from 'node:path';

type Mutable = Record<string, unknown>;

const TLS_FILES = ['ca', 'cert', 'key'] as const;

function resolveIn(obj: Mutable | undefined, keys: readonly string[], baseDir: string): void {
  if (!obj) return;
  for (const k of keys) {
    const v = obj[k];
    if (typeof v === 'string' && v !== '' && !path.isAbsolute(v)) obj[k] = path.resolve(baseDir, v);
  }
}

/**
 * Makes every file path of a parsed (not yet frozen) cluster config absolute, relative paths
 * being relative to the config file's folder: TLS files and pinned server keys of the
 * instances (and their replicas) and the archive, Kafka's and Elasticsearch's TLS files.
 */
export function resolveConfigPaths(config: Mutable, baseDir: string): void {
  const sqlEndpoints = [...((config['instances'] as Mutable[] | undefined) ?? []), config['archive'] as Mutable | undefined];
  for (const ep of sqlEndpoints) {
    if (!ep) continue;
    resolveIn(ep, ['serverPublicKey'], baseDir);
    resolveIn(ep['tls'] as Mutable | undefined, TLS_FILES, baseDir);
    for (const r of (ep['replicas'] as Mutable[] | undefined) ?? []) resolveIn(r, ['serverPublicKey'], baseDir);
  }
  for (const section of ['kafka', 'elasticsearch']) {
    resolveIn((config[section] as Mutable | undefined)?.['tls'] as Mutable | undefined, TLS_FILES, baseDir);
  }
}
