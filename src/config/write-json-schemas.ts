import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { clusterConfigSchema } from './cluster-schema.js';
import { packageRoot } from './package-root.js';

/** The JSON Schemas generated from the zod schemas, keyed by file name under `schemas/`. */
export function jsonSchemas(): Record<string, unknown> {
  return {
    'cluster-config.schema.json': {
      $id: 'https://shardline.dev/schemas/cluster-config.schema.json',
      title: 'shardline cluster configuration',
      ...z.toJSONSchema(clusterConfigSchema, { io: 'input', unrepresentable: 'any' }),
    },
  };
}

/** Writes {@link jsonSchemas} into `dir` (default: the package's `schemas/`). */
export function writeJsonSchemas(dir = path.join(packageRoot, 'schemas')): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(jsonSchemas()).map(([file, schema]) => {
    const target = path.join(dir, file);
    writeFileSync(target, `${JSON.stringify(schema, null, 2)}\n`);
    return target;
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.join(packageRoot, 'dist', 'config', 'write-json-schemas.js')) {
  for (const file of writeJsonSchemas()) process.stdout.write(`wrote ${path.relative(packageRoot, file)}\n`);
}
