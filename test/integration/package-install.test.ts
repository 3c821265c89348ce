import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/config/index.js';
import { shardline, testConfig } from '../support/cluster.js';

// A new user's view: the packed tarball installed into a fresh CommonJS project and a fresh ESM
// TypeScript project, type-checked with tsc, run against the local cluster with a router-only
// config (no archive, kafka, elasticsearch, replication or serverId).

const run = promisify(execFile);
const tsc = path.join(packageRoot, 'node_modules', 'typescript', 'bin', 'tsc');
const typeRoots = path.join(packageRoot, 'node_modules', '@types');
const uid = 9_100_000_000n + BigInt(process.pid);

/** Router-only config: the dev cluster's instances (resolved key paths, passwords) and sharding. */
function routerOnlyConfig(): Record<string, unknown> {
  const config = testConfig();
  return {
    instances: config.instances.map(({ name, flavour, host, port, user, password, tls, serverPublicKey }) => ({
      name,
      flavour,
      host,
      port,
      user,
      password,
      ...(tls ? { tls } : {}),
      ...(serverPublicKey ? { serverPublicKey } : {}),
    })),
    sharding: config.sharding,
  };
}

/** The program both projects run: typed config literal, insert, read back, delete. */
function program(kind: 'cjs' | 'esm'): string {
  const header =
    kind === 'cjs'
      ? `import { createRouter, defineConfig, type Router } from 'shardline';\nimport { clusterConfigSchema } from 'shardline/config';\nimport { BinlogDecoder } from 'shardline/cdc';\n`
      : `import { createRouter, defineConfig, type Router, type ClusterConfigInput } from 'shardline';\nimport { clusterConfigSchema } from 'shardline/config';\nimport { BinlogDecoder } from 'shardline/cdc';\nconst input: ClusterConfigInput = { instances: [] };\nvoid input;`;
  return `${header}
// @ts-expect-error a misspelt section is a type error
defineConfig({ instances: [], kafak: {} });
const config = defineConfig(${JSON.stringify(routerOnlyConfig(), null, 2)});
async function main(): Promise<void> {
  const router: Router = await createRouter(config);
  try {
    await router.query('INSERT INTO users (uid, name) VALUES (?, ?)', [${uid}n, 'installed-${kind}']);
    const rows = await router.select('SELECT name FROM users WHERE uid = ?', [${uid}n]);
    await router.query('DELETE FROM users WHERE uid = ?', [${uid}n]);
    console.log(JSON.stringify({ rows, schema: typeof clusterConfigSchema.parse, cdc: typeof BinlogDecoder }));
  } finally {
    await router.close();
  }
}
main().catch((err) => { console.error(err); process.exit(1); });
`;
}

const HEAVY = `import { createRequire } from 'node:module';
const mod = await import('shardline');
const heavy = Object.keys(createRequire(import.meta.url).cache).filter((f) => /node_modules[\\\\/](kafkajs|@elastic|fzstd)[\\\\/]/.test(f));
console.log(JSON.stringify({ heavy, exports: typeof mod.createRouter === 'function' }));`;

let work: string;
let tarball: string;

beforeAll(async () => {
  shardline('migrate');
  work = mkdtempSync(path.join(os.tmpdir(), 'shardline-install-'));
  await run('npm', ['pack', '--silent', '--pack-destination', work], { cwd: packageRoot });
  tarball = path.join(
    work,
    readdirSync(work).find((f) => f.endsWith('.tgz'))!,
  );
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A fresh project with the tarball installed (install scripts off: the JS socket layer is used). */
async function project(name: string, type: 'commonjs' | 'module', module: string): Promise<string> {
  const dir = path.join(work, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type }));
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module,
        moduleResolution: module,
        target: 'es2022',
        strict: true,
        outDir: 'out',
        typeRoots: [typeRoots],
        types: ['node'],
      },
      files: ['main.ts'],
    }),
  );
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', tarball], { cwd: dir });
  return dir;
}

async function typeCheckAndRun(dir: string): Promise<{ out: Record<string, unknown>; stderr: string }> {
  await run(process.execPath, [tsc, '-p', dir]).catch((err: { stdout: string }) => {
    throw new Error(`tsc failed in ${path.basename(dir)}:\n${err.stdout}`);
  });
  const { stdout, stderr } = await run(process.execPath, [path.join(dir, 'out', 'main.js')], {
    cwd: dir,
    env: { ...process.env, SHARDLINE_SOCKET_LAYER: '' },
  });
  return { out: JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>, stderr };
}

describe('the packed package installed into a fresh project', () => {
  it('CommonJS: require() of every entry, types under module nodenext, the router with a router-only config', async () => {
    const dir = await project('cjs-app', 'commonjs', 'nodenext');
    writeFileSync(path.join(dir, 'main.ts'), program('cjs'));
    const { out, stderr } = await typeCheckAndRun(dir);
    expect(out).toEqual({ rows: [{ name: 'installed-cjs' }], schema: 'function', cdc: 'function' });
    // install scripts did not run: the fallback says how to build the addon in an installed package
    expect(stderr).toContain('`npm rebuild shardline`');
    expect(stderr).not.toContain('build:native');
    const plain = await run(
      process.execPath,
      ['-e', "for (const s of ['shardline', 'shardline/config', 'shardline/cdc']) console.log(s, Object.keys(require(s)).length > 0)"],
      { cwd: dir },
    );
    expect(plain.stdout.trim().split('\n')).toEqual(['shardline true', 'shardline/config true', 'shardline/cdc true']);
    expect(plain.stderr).toBe('');
  }, 240_000);

  it('ESM TypeScript: import with types, defineConfig literal, the router with a router-only config', async () => {
    const dir = await project('esm-app', 'module', 'nodenext');
    writeFileSync(path.join(dir, 'main.ts'), program('esm'));
    const { out } = await typeCheckAndRun(dir);
    expect(out).toEqual({ rows: [{ name: 'installed-esm' }], schema: 'function', cdc: 'function' });
    // the router's import loads none of the CDC's clients (kafkajs, Elasticsearch, zstd)
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', HEAVY], { cwd: dir });
    expect(JSON.parse(stdout)).toEqual({ heavy: [], exports: true });
  }, 240_000);
});
