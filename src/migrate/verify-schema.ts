import type { ClusterConfig } from '../config/index.js';
import type { Topology } from '../shard/index.js';
import type { Connect } from './migrate-runner.js';

/** Drift of one logical table across its physical tables. */
export interface TableDrift {
  table: string;
  kind: 'sharded' | 'broadcast';
  expected: number;
  found: number;
  /** The column signature most physical tables share. */
  reference: string | null;
  missing: string[];
  differing: { physical: string; instance: string; columns: string }[];
}

/** `migrate --verify`: every physical table's columns compared with the rest. */
export interface VerifyReport {
  drift: boolean;
  tables: TableDrift[];
}

/** Integer display widths differ between MySQL 8 and MariaDB; they carry no meaning. */
function normaliseType(type: string): string {
  return type.toLowerCase().replace(/^(tinyint|smallint|mediumint|int|bigint)\(\d+\)/, '$1');
}

/**
 * Reads every physical table's columns (name, type, nullability) from information_schema and
 * reports physical tables that are missing or whose columns differ from the majority.
 */
export async function verifySchema(config: ClusterConfig, topology: Topology, connect: Connect): Promise<VerifyReport> {
  const signatures = new Map<string, { instance: string; columns: string }>();
  await Promise.all(
    config.instances.map(async (inst) => {
      const conn = await connect({
        name: inst.name,
        host: inst.host,
        port: inst.port,
        user: inst.user,
        password: inst.password,
        tls: inst.tls,
        serverPublicKey: inst.serverPublicKey,
      });
      try {
        const dbs = [topology.names.broadcastDatabase, ...new Set(topology.map.shardsOf(inst.name).map((s) => topology.names.database(s)))];
        const result = await conn.query(
          `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS tbl, COLUMN_NAME AS col, COLUMN_TYPE AS type, IS_NULLABLE AS nullable FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN (${dbs.map(() => '?').join(', ')}) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
          dbs,
        );
        if (result.kind !== 'rows') return;
        for (const r of result.rows) {
          const key = `${inst.name}|${String(r['db'])}.${String(r['tbl'])}`;
          const col = `${String(r['col'])} ${normaliseType(String(r['type']))}${r['nullable'] === 'NO' ? ' not null' : ''}`;
          const prev = signatures.get(key);
          signatures.set(key, { instance: inst.name, columns: prev ? `${prev.columns}, ${col}` : col });
        }
      } finally {
        await conn.close();
      }
    }),
  );
  const tables: TableDrift[] = topology.allTables().map(([table, kind]) => {
    const physical =
      kind.kind === 'sharded'
        ? Array.from({ length: topology.shardCount }, (_, s) => ({
            instance: topology.map.instanceOf(s),
            name: `${topology.names.database(s)}.${topology.names.table(table, s)}`,
          }))
        : topology.map.instances.map((instance) => ({ instance, name: `${topology.names.broadcastDatabase}.${table}` }));
    const found = physical.map((p) => ({ ...p, sig: signatures.get(`${p.instance}|${p.name}`) }));
    const counts = new Map<string, number>();
    for (const f of found) if (f.sig) counts.set(f.sig.columns, (counts.get(f.sig.columns) ?? 0) + 1);
    const reference = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
    return {
      table,
      kind: kind.kind,
      expected: physical.length,
      found: found.filter((f) => f.sig).length,
      reference,
      missing: found.filter((f) => !f.sig).map((f) => `${f.instance}:${f.name}`),
      differing: found
        .filter((f) => f.sig && f.sig.columns !== reference)
        .map((f) => ({ physical: f.name, instance: f.instance, columns: f.sig!.columns })),
    };
  });
  return { drift: tables.some((t) => t.missing.length > 0 || t.differing.length > 0), tables };
}
