// Checks the package's `exports` map: every entry resolves through the package's own name,
// loads with both `import` and `require` (require(esm), Node 20.19+: no top-level await anywhere
// in the graph), exports the same names either way, and ships its .d.ts. Run after `npm run build`.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const expected = {
  '.': ['createRouter', 'ShardlineError', 'RoutingError', 'InvalidUidError', 'loadClusterConfig', 'resolveConfigPath', 'isShardlineError'],
  './config': ['clusterConfigSchema', 'loadClusterConfig'],
  './cdc': [
    'BinlogReader',
    'TransactionStream',
    'BinlogDecoder',
    'canonicalRow',
    'changeEvents',
    'MysqlGtidSet',
    'SchemaHistory',
    'BinlogError',
  ],
};
let failures = 0;
for (const [subpath, entry] of Object.entries(pkg.exports)) {
  if (subpath === './package.json') continue;
  const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
  const types = path.join(root, entry.types);
  if (!existsSync(types)) {
    console.error(`✖ ${specifier}: types file ${entry.types} is missing`);
    failures++;
  }
  try {
    const mod = await import(specifier);
    const missing = (expected[subpath] ?? []).filter((name) => !(name in mod));
    if (missing.length) throw new Error(`missing exports: ${missing.join(', ')}`);
    const required = require(specifier);
    const differ = Object.keys(mod).filter((name) => required[name] !== mod[name]);
    if (differ.length) throw new Error(`require() gives other values for: ${differ.join(', ')}`);
    console.log(`✔ ${specifier} (${Object.keys(mod).length} exports; import and require)`);
  } catch (err) {
    console.error(`✖ ${specifier}: ${err.message}`);
    failures++;
  }
}
const bin = path.join(root, pkg.bin.shardline);
if (!existsSync(bin) || !readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node')) {
  console.error(`✖ bin shardline: ${pkg.bin.shardline} missing or without a shebang`);
  failures++;
}
process.exit(failures ? 1 : 0);
