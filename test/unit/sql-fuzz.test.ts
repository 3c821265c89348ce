import { crc32 } from 'node:zlib';
import { bundledClusterConfig, loadClusterConfig } from '../../src/config/index.js';
import { isShardlineError } from '../../src/errors/index.js';
import { Topology } from '../../src/shard/index.js';
import { analyze, plan, type PlanOptions, type SqlParam } from '../../src/sql/index.js';
import { prng } from '../support/prng.js';

const config = loadClusterConfig(bundledClusterConfig, {});
const topology = new Topology(
  config.sharding,
  config.instances.map((i) => i.name),
);
/** The oracle: MySQL's CRC32 of the UID's decimal text modulo 1024, independent of the router's hash code. */
const shardOf = (uid: bigint) => crc32(String(uid)) % 1024;

/**
 * Statement templates. `{K}` is a shard-key value the test chooses (written as a literal or a
 * placeholder); `same` templates use one value for every `{K}` (they join or repeat one key).
 * Plain `?` are non-key values.
 */
const TEMPLATES: { sql: string; same?: boolean; select?: boolean }[] = [
  { sql: 'SELECT name FROM users WHERE uid = {K}', select: true },
  { sql: 'SELECT name, email FROM users WHERE name = ? AND uid = {K} AND email IS NULL', select: true },
  { sql: 'SELECT uid, name FROM users WHERE uid IN ({K}, {K}, {K})', select: true },
  { sql: 'SELECT u.name, o.amount FROM users u JOIN orders AS o ON o.uid = u.uid WHERE u.uid = {K} AND o.status = ?', select: true },
  { sql: 'SELECT name FROM users WHERE uid = {K} AND uid IN (SELECT uid FROM orders WHERE amount > ?)', select: true },
  { sql: 'SELECT u.name FROM users u WHERE u.uid = {K} AND EXISTS (SELECT 1 FROM orders o WHERE o.uid = u.uid)', select: true },
  { sql: 'SELECT name FROM users WHERE uid = {K} UNION ALL SELECT name FROM users WHERE uid = {K}', select: true },
  { sql: 'SELECT name FROM users WHERE uid = {K} UNION ALL SELECT status FROM orders WHERE uid = {K}', same: true, select: true },
  { sql: 'SELECT c.name FROM users u JOIN countries c ON c.code = u.email WHERE u.uid = {K}', select: true },
  { sql: 'SELECT COUNT(*) AS n FROM orders WHERE uid IN ({K}, {K})', select: true },
  { sql: 'SELECT uid, balance FROM users WHERE uid IN ({K}, {K}) ORDER BY balance DESC LIMIT 5', select: true },
  { sql: 'SELECT * FROM (SELECT uid, name FROM users WHERE uid = {K}) t WHERE t.name = ?', select: true },
  { sql: 'WITH t AS (SELECT uid FROM orders WHERE uid = {K}) SELECT name FROM users WHERE uid = {K}', select: true },
  { sql: 'UPDATE users SET name = ?, updated_at = NOW(6) WHERE uid = {K}' },
  { sql: 'UPDATE users u JOIN orders o ON o.uid = u.uid SET o.status = ? WHERE u.uid = {K}' },
  { sql: 'DELETE FROM orders WHERE uid = {K} AND order_id = ?' },
  { sql: 'DELETE FROM users WHERE uid IN ({K}, {K}) AND name IN (SELECT status FROM orders WHERE uid = {K})', same: true },
  { sql: 'INSERT INTO users (uid, name) VALUES ({K}, ?), ({K}, ?) ON DUPLICATE KEY UPDATE name = ?' },
  { sql: 'REPLACE INTO orders (uid, order_id, amount) VALUES ({K}, ?, ?)' },
  { sql: 'SELECT code FROM countries WHERE name = ?' },
];

const KEYWORD_SPOTS = ['SELECT', 'UPDATE', 'DELETE', 'INSERT', 'REPLACE'];
const EXEC_COMMENTS = ['/*! OR 1=1 */', '/*!80000 OR 1=1 */', '/*M!, app_14.users_0950 o */', '/*!UNION SELECT 1*/', '/*m! */'];
const COMMENTS = [
  '/* ? */',
  '-- x?\n',
  '# ?\n',
  '/* plain */',
  '-- trailing\n',
  '#\n',
  '/*+ BKA(u) */',
  "/*+ SET_VAR(x='?') */",
  '/*+ QB_NAME(q1) */',
];
const TOKENS = [
  '(',
  ')',
  ',',
  'AND',
  'OR',
  'NOT',
  '1',
  '0',
  "'x'",
  '`users`',
  'users',
  'orders',
  ';',
  'uid',
  'u.uid',
  '=',
  'IN',
  'NULL',
  'SELECT',
  'FROM',
  'WHERE',
  '-',
  '+',
  '?',
  '??',
  '--1',
  'UNION',
  'ALL',
  'LIMIT 1',
  'JOIN',
  'ON',
  'o',
];

interface Case {
  sql: string;
  keys: bigint[];
  params: SqlParam[];
  options: PlanOptions;
}

function build(rand: () => number): Case {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const template = pick(TEMPLATES);
  let sql = template.sql;
  const one = BigInt(Math.floor(rand() * 1_000_000));
  const fresh = () => (template.same ? one : BigInt(Math.floor(rand() * 1_000_000)));
  let k = 0;
  const keyValues: bigint[] = [];
  sql = sql.replace(/\{K\}/g, () => {
    keyValues.push(fresh());
    return `\u27e8${k++}\u27e9`;
  });
  const mutations = Math.floor(rand() * 4);
  for (let m = 0; m < mutations; m++) {
    const words = sql.split(' ');
    const at = 1 + Math.floor(rand() * (words.length - 1));
    const r = rand();
    if (r < 0.15) words.splice(at, 0, pick(EXEC_COMMENTS));
    else if (r < 0.3) words.splice(at, 0, pick(COMMENTS));
    else if (r < 0.4) {
      const i = words.findIndex((w) => KEYWORD_SPOTS.includes(w));
      if (i >= 0) words.splice(i + 1, 0, pick(COMMENTS));
    } else if (r < 0.55) words.splice(at, 0, pick(TOKENS));
    else if (r < 0.62 && /^(AND|OR|NOT|IS|NULL|ALL|\?|\d+|,)$/.test(words[at]!)) words.splice(at, 1);
    else if (r < 0.72 && template.select) {
      keyValues.push(fresh());
      words.push(
        pick(['UNION ALL SELECT name FROM users WHERE uid =', 'UNION SELECT status FROM orders WHERE uid =']),
        `\u27e8${k++}\u27e9`,
      );
    } else if (r < 0.77 && template.select) words.push('UNION SELECT status FROM orders');
    else if (r < 0.85 && template.select) {
      words.unshift('SELECT * FROM (');
      words.push(') AS w');
    } else if (r < 0.9) {
      const n = rand() < 0.3 ? 1001 + Math.floor(rand() * 3000) : Math.floor(rand() * 30);
      words.push('AND (' + Array.from({ length: n }, (_, i) => `name = '${i}'`).join(' OR ') + (n ? ' OR ' : '') + 'email IS NULL)');
    } else words.push(pick(['/* tail */', ';']));
    sql = words.join(' ');
  }
  if (rand() < 0.15) sql += pick([' -- tail', ' # tail', ' --', '#']);
  const asParams = rand() < 0.5;
  const params: SqlParam[] = [];
  const keys: bigint[] = [];
  let out = '';
  for (const part of sql.split(/(\u27e8\d+\u27e9|\?)/)) {
    const marker = /^\u27e8(\d+)\u27e9$/.exec(part);
    if (marker) {
      const v = keyValues[Number(marker[1])]!;
      keys.push(v);
      if (asParams) {
        params.push(rand() < 0.5 ? v : String(v));
        out += '?';
      } else out += String(v);
    } else if (part === '?') {
      params.push(`v${params.length}`);
      out += '?';
    } else out += part;
  }
  return { sql: out, keys, params, options: rand() < 0.1 ? { scatter: true } : {} };
}

describe('router SQL fuzzing', () => {
  it('never throws an untyped error and never routes a statement to a shard its keys do not hash to', () => {
    const seed = Number(process.env['SQL_FUZZ_SEED'] ?? 20240611);
    const rand = prng(seed);
    const counts = { planned: 0, refused: 0 };
    for (let n = 0; n < 2500; n++) {
      const c = build(rand);
      const context = `case ${n} (seed ${seed}): ${c.sql.slice(0, 300)}`;
      let p;
      try {
        p = plan(analyze(c.sql, topology), c.params, topology, c.options);
      } catch (err) {
        if (!isShardlineError(err)) throw new Error(`untyped ${String(err)} for ${context}`, { cause: err });
        counts.refused++;
        continue;
      }
      counts.planned++;
      const expected = [...new Set(c.keys.map(shardOf))].sort((a, b) => a - b);
      const everywhere = c.options.scatter === true && p.kind === 'scatter' && p.shards.length === 1024;
      if (!everywhere && JSON.stringify(p.shards) !== JSON.stringify(expected)) {
        throw new Error(
          `mis-routed: planned shards ${p.shards.slice(0, 20).join(',')} but the keys ${c.keys.join(',')} hash to ${expected.join(',')} for ${context}`,
        );
      }
      for (const t of p.targets) {
        for (const m of t.sql.matchAll(/`app_\d{2}`\.`([a-z]+)_(\d{4})`/g)) {
          const shard = Number(m[2]);
          if (!t.shards.includes(shard) || !p.shards.includes(shard)) {
            throw new Error(`target ${t.instance} for shards ${t.shards.slice(0, 5).join(',')} names ${m[0]} for ${context}`);
          }
          if (topology.map.instanceOf(shard) !== t.instance) throw new Error(`shard ${shard} sent to ${t.instance} for ${context}`);
        }
        if (/\/\*[!Mm]/.test(t.sql) || /\?\?/.test(t.sql)) throw new Error(`executable comment or ?? reached the server for ${context}`);
      }
    }
    expect(counts.planned).toBeGreaterThan(300);
    expect(counts.refused).toBeGreaterThan(300);
  });
});
