/**
 * docs/import-map.json is the one source of the allowed imports: `npm run lint` (ESLint with the
 * repository's own config) must refuse an import that is not on it and accept one that is, the
 * map must name exactly the folders of src/, and docs/ARCHITECTURE.md's folder table must be the map.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';
import { packageRoot } from '../../src/config/index.js';

interface FolderRules {
  why: string;
  imports: string[];
  types: string[];
  packages: string[];
}
const map = JSON.parse(readFileSync(path.join(packageRoot, 'docs', 'import-map.json'), 'utf8')) as { folders: Record<string, FolderRules> };
const srcDir = path.join(packageRoot, 'src');

const eslint = new ESLint({ cwd: packageRoot, overrideConfigFile: path.join(packageRoot, 'eslint.config.js') });

/** The import-map problems ESLint reports for `code` as if it were the file `file` (relative to src/). */
async function importMapErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(srcDir, file) });
  return result!.messages.filter((m) => m.ruleId === 'shardline/import-map').map((m) => m.message);
}

/** Folders under src/ holding at least one .ts file (`.` for src/ itself). */
function sourceFolders(dir = srcDir, rel = '.'): string[] {
  const entries = readdirSync(dir, { withFileTypes: true });
  const here = entries.some((e) => e.isFile() && e.name.endsWith('.ts')) ? [rel] : [];
  const below = entries
    .filter((e) => e.isDirectory())
    .flatMap((e) => sourceFolders(path.join(dir, e.name), rel === '.' ? e.name : `${rel}/${e.name}`));
  return [...here, ...below];
}

describe('import map', () => {
  it('names exactly the folders of src/ (a new folder must be added to docs/import-map.json)', () => {
    expect(Object.keys(map.folders).sort()).toEqual(sourceFolders().sort());
  });

  it('only names folders that exist, each with a reason', () => {
    const folders = new Set(Object.keys(map.folders));
    for (const [folder, rules] of Object.entries(map.folders)) {
      expect([folder, rules.why.length > 0]).toEqual([folder, true]);
      for (const target of [...rules.imports, ...rules.types])
        expect([folder, target, folders.has(target)]).toEqual([folder, target, true]);
    }
  });

  it('is the folder table of docs/ARCHITECTURE.md (regenerate it with `node lint/import-map-table.js --write`)', async () => {
    const tableModule = '../../lint/import-map-table.js';
    const { renderImportTable } = (await import(tableModule)) as { renderImportTable: (m: unknown) => string };
    const doc = readFileSync(path.join(packageRoot, 'docs', 'ARCHITECTURE.md'), 'utf8');
    expect(doc).toContain(renderImportTable(map));
  });

  it('keeps the library entries away from the dev cluster and the CLI', () => {
    for (const [folder, rules] of Object.entries(map.folders)) {
      if (folder === 'cli' || folder.startsWith('devcluster')) continue;
      const reached = [...rules.imports, ...rules.types].filter((t) => t === 'cli' || t.startsWith('devcluster'));
      expect([folder, reached]).toEqual([folder, []]);
    }
    expect(Object.values(map.folders).filter((r) => r.imports.includes('cli') || r.types.includes('cli'))).toEqual([]);
  });

  it('lint refuses a folder import that is not on the map and accepts one that is', async () => {
    expect(map.folders['sql']!.imports).not.toContain('net');
    expect(
      await importMapErrors('sql/probe.ts', "import { openDbConnection } from '../net/index.js';\nexport const f = openDbConnection;\n"),
    ).toEqual([expect.stringMatching(/^src\/sql may not import src\/net \(it may import: errors, shard;/)]);
    expect(
      await importMapErrors('sql/probe.ts', "import { canonicalUid } from '../shard/index.js';\nexport const f = canonicalUid;\n"),
    ).toEqual([]);
    expect(await importMapErrors('sql/probe.ts', "import { x } from './lexer.js';\nexport const f = x;\n")).toEqual([]);
    expect(
      await importMapErrors(
        'cdc/pipeline/probe.ts',
        "import { documentId } from '../sinks/sink-record.js';\nexport const f = documentId;\n",
      ),
    ).toEqual([expect.stringMatching(/^src\/cdc\/pipeline may not import src\/cdc\/sinks /)]);
  });

  it('lint refuses a value import from a folder the map allows only types from', async () => {
    expect(map.folders['executor']!.types).toContain('net');
    expect(
      await importMapErrors('executor/probe.ts', "import type { DbConnection } from '../net/index.js';\nexport type C = DbConnection;\n"),
    ).toEqual([]);
    expect(
      await importMapErrors(
        'executor/probe.ts',
        "import { openDbConnection } from '../net/index.js';\nexport const f = openDbConnection;\n",
      ),
    ).toEqual([expect.stringMatching(/^src\/executor may import only types from src\/net/)]);
  });

  it('lint refuses packages not on the map: static, dynamic and require()', async () => {
    expect(await importMapErrors('sql/probe.ts', "import mysql from 'mysql2';\nexport const m = mysql;\n")).toEqual([
      expect.stringMatching(/^src\/sql may not import the package mysql2 /),
    ]);
    expect(await importMapErrors('sql/probe.ts', "export const m = () => import('node:fs');\n")).toEqual([
      expect.stringMatching(/package node:fs /),
    ]);
    expect(
      await importMapErrors(
        'sql/probe.ts',
        "import { createRequire } from 'node:module';\nexport const k = createRequire(import.meta.url)('kafkajs');\n",
      ),
    ).toEqual([expect.stringMatching(/package node:module /)]);
    expect(
      await importMapErrors(
        'cdc/pipeline/probe.ts',
        "declare const require: (s: string) => unknown;\nexport const k = require('kafkajs');\n",
      ),
    ).toEqual([expect.stringMatching(/package kafkajs /)]);
    expect(await importMapErrors('cdc/kafka/probe.ts', "import { Kafka } from '@shardline/kafkajs';\nexport const k = Kafka;\n")).toEqual(
      [],
    );
    expect(await importMapErrors('sql/probe.ts', "import { Parser } from 'node-sql-parser';\nexport const p = Parser;\n")).toEqual([]);
    expect(await importMapErrors('shard/probe.ts', "import { crc32 } from 'zlib';\nexport const c = crc32;\n")).toEqual([]);
  });

  it('lint refuses any import from a folder missing from the map, and library imports of devcluster/ and cli/', async () => {
    expect(
      await importMapErrors(
        'newfolder/probe.ts',
        "import { ShardlineError } from '../errors/index.js';\nexport const e = ShardlineError;\n",
      ),
    ).toEqual([expect.stringMatching(/^src\/newfolder\/ is not on docs\/import-map.json/)]);
    expect(
      await importMapErrors('cdc/probe.ts', "import { DevCluster } from '../devcluster/index.js';\nexport const d = DevCluster;\n"),
    ).toEqual([expect.stringMatching(/may not import src\/devcluster /)]);
    expect(
      await importMapErrors('router/probe.ts', "import { runDemo } from '../cli/demo-command.js';\nexport const d = runDemo;\n"),
    ).toEqual([expect.stringMatching(/may not import src\/cli /)]);
    expect(
      await importMapErrors('cli/probe.ts', "import { DevCluster } from '../devcluster/index.js';\nexport const d = DevCluster;\n"),
    ).toEqual([]);
  });
});
