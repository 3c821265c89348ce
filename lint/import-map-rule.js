// The ESLint rule that enforces docs/import-map.json: every import of a file under src/ (static,
// `export … from`, `import()`, `require()`) must be on the map for the file's folder.
import { isBuiltin } from 'node:module';
import path from 'node:path';

/** The package an import specifier names: `@scope/name`, `name`, or `node:<module>` for built-ins. */
export function packageOf(specifier) {
  const bare = specifier.startsWith('node:') ? specifier.slice(5) : specifier;
  if (specifier.startsWith('node:') || isBuiltin(bare)) return `node:${bare.split('/')[0]}`;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The folder of a file under `srcDir`, relative to it (`.` for src/ itself), or null outside it. */
export function folderOf(file, srcDir) {
  const rel = path.relative(srcDir, path.dirname(file));
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return rel === '' ? '.' : rel.split(path.sep).join('/');
}

const list = (names) => (names.length ? names.join(', ') : 'nothing');

/**
 * Checks one import against the map entry of the importing file's folder. Returns the problem
 * (what was expected, what was found) or null when the import is on the map.
 */
export function checkImport(map, srcDir, file, specifier, typeOnly) {
  const folder = folderOf(file, srcDir);
  if (folder === null) return null;
  const entry = map.folders[folder];
  if (!entry) return `src/${folder === '.' ? '' : `${folder}/`} is not on docs/import-map.json: add the folder with what it may import`;
  if (!specifier.startsWith('.')) {
    const pkg = packageOf(specifier);
    if ((entry.packages ?? []).includes(pkg)) return null;
    return `src/${folder} may not import the package ${pkg} (it may import: ${list(entry.packages ?? [])}; docs/import-map.json)`;
  }
  const target = folderOf(path.resolve(path.dirname(file), specifier), srcDir);
  if (target === null) return `src/${folder} imports ${specifier}, which is outside src/`;
  if (target === folder) return null;
  if ((entry.imports ?? []).includes(target)) return null;
  if (typeOnly && (entry.types ?? []).includes(target)) return null;
  if ((entry.types ?? []).includes(target))
    return `src/${folder} may import only types from src/${target} (use \`import type\`; docs/import-map.json)`;
  const allowed = [...(entry.imports ?? []), ...(entry.types ?? []).map((t) => `${t} (types)`)];
  return `src/${folder} may not import src/${target} (it may import: ${list(allowed)}; docs/import-map.json)`;
}

const literal = (node) => (node && node.type === 'Literal' && typeof node.value === 'string' ? node.value : null);

/** `shardline/import-map`: options `{ map, srcDir }` (the parsed map and the absolute src/ path). */
export const importMapRule = {
  meta: {
    type: 'problem',
    docs: { description: 'imports of src/ follow docs/import-map.json' },
    schema: [
      {
        type: 'object',
        properties: { map: { type: 'object' }, srcDir: { type: 'string' } },
        required: ['map', 'srcDir'],
        additionalProperties: false,
      },
    ],
    messages: { offMap: '{{problem}}' },
  },
  create(context) {
    const { map, srcDir } = context.options[0];
    const file = context.filename;
    const check = (node, specifier, typeOnly) => {
      if (specifier === null) return;
      const problem = checkImport(map, srcDir, file, specifier, typeOnly);
      if (problem) context.report({ node, messageId: 'offMap', data: { problem } });
    };
    return {
      ImportDeclaration: (node) => check(node.source, literal(node.source), node.importKind === 'type'),
      ExportNamedDeclaration: (node) => node.source && check(node.source, literal(node.source), node.exportKind === 'type'),
      ExportAllDeclaration: (node) => check(node.source, literal(node.source), node.exportKind === 'type'),
      ImportExpression: (node) => check(node.source, literal(node.source), false),
      TSImportType: (node) => check(node, literal(node.argument?.literal ?? node.argument), true),
      CallExpression(node) {
        const callee = node.callee;
        const isRequire =
          (callee.type === 'Identifier' && callee.name === 'require') ||
          (callee.type === 'MemberExpression' &&
            callee.object.type === 'Identifier' &&
            callee.object.name === 'require' &&
            callee.property.type === 'Identifier' &&
            callee.property.name === 'resolve');
        if (isRequire) check(node.arguments[0], literal(node.arguments[0]), false);
      },
    };
  },
};
