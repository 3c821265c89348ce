import { z } from 'zod';
import { cdcSchema } from './cdc-schema.js';
import { poolSchema, routerSchema, shardingSchema } from './sharding-schema.js';

const name = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, starting with a letter');
const host = z.string().min(1);
const port = z.number().int().min(1).max(65535);

/** Credentials of one MySQL-protocol account. */
export const credentialsSchema = z
  .object({
    user: z.string().min(1),
    password: z.string(),
  })
  .strict();

/** A PEM file path; relative paths are relative to the config file's folder. */
const pemFile = z.string().min(1);

/**
 * TLS of one connection (MySQL protocol, Kafka, Elasticsearch). `mode` as MySQL's `--ssl-mode`:
 * `required` encrypts without checking the certificate, `verify-ca` checks that it chains to
 * `ca` (default: the system's roots), `verify-full` also checks that it names the host.
 * Files are read when a connection opens and never logged.
 */
export const tlsSchema = z
  .object({
    mode: z.enum(['disabled', 'required', 'verify-ca', 'verify-full']).default('verify-full'),
    ca: pemFile.optional(),
    /** Client certificate and key (both or neither), for servers that require them. */
    cert: pemFile.optional(),
    key: pemFile.optional(),
  })
  .strict()
  .refine((t) => !t.cert === !t.key, { message: 'cert and key go together' });

/**
 * The server's RSA public key (PEM, `public_key.pem` in a MySQL datadir): with
 * caching_sha2_password over plain TCP the password is encrypted with it. Without it and
 * without `tls`, such a login is refused instead of trusting a key fetched unauthenticated.
 */
const serverPublicKey = pemFile;

/** What the native local cluster runs for an instance (ignored outside `shardline dev`). */
const devSchema = z
  .object({
    /** Server version the native dev cluster installs, e.g. `8.0`, `9.7`, `10.11`. */
    version: z.string().regex(/^\d+\.\d+$/),
  })
  .strict();

/**
 * A read replica of a shard instance. It logs in with the primary's account and TLS settings
 * (`user`, `password`, `tls`); only where it is and how much read traffic it takes are its own.
 */
export const replicaSchema = z
  .object({
    name,
    host,
    port,
    /** Share of the instance's replica reads (relative to its other replicas); 0 takes none. */
    weight: z.number().int().min(0).max(1000).default(1),
    /** This server's own RSA key (caching_sha2_password over plain TCP); the primary's is another key. */
    serverPublicKey: serverPublicKey.optional(),
    /** Its `server_id`; only `shardline dev` needs it. */
    serverId: z.number().int().min(1).max(4294967295).optional(),
    dev: devSchema.optional(),
  })
  .strict();

/** One physical MySQL or MariaDB server that holds shards. */
export const instanceSchema = z
  .object({
    name,
    flavour: z.enum(['mysql', 'mariadb']),
    host,
    port,
    user: z.string().min(1),
    password: z.string(),
    /** The account the CDC worker's binlog readers log in with; only the CDC needs it. */
    replication: credentialsSchema.optional(),
    /**
     * The account `shardline failover` administers the instance's nodes with (fencing, promoting,
     * repointing replication: MySQL SYSTEM_VARIABLES_ADMIN and REPLICATION_SLAVE_ADMIN, MariaDB
     * READ_ONLY ADMIN, SUPER); default: the instance's own account.
     */
    admin: credentialsSchema.optional(),
    /** TLS of every connection to this instance (router pools, migrations, admin sessions, CDC). */
    tls: tlsSchema.optional(),
    serverPublicKey: serverPublicKey.optional(),
    /** The server's own `server_id`; unique in the fleet. Only `shardline dev` needs it (to start the server with it). */
    serverId: z.number().int().min(1).max(4294967295).optional(),
    dev: devSchema.optional(),
    /**
     * Read replicas (GTID replication from this instance, binlog on). Reads go to them by the
     * router's `consistency`; writes, transactions and locking reads never do.
     */
    replicas: z.array(replicaSchema).max(32).optional(),
  })
  .strict();

/** The archive store: any MySQL-protocol server (TiDB in production). */
export const archiveSchema = z
  .object({
    name: name.default('archive'),
    flavour: z.enum(['mysql', 'tidb']).default('mysql'),
    host,
    port,
    user: z.string().min(1),
    password: z.string(),
    database: z
      .string()
      .regex(/^[A-Za-z0-9_]{1,64}$/)
      .default('shardline_archive'),
    tls: tlsSchema.optional(),
    serverPublicKey: serverPublicKey.optional(),
    serverId: z.number().int().min(1).max(4294967295).optional(),
    dev: devSchema.optional(),
  })
  .strict();

const hostPort = z.string().regex(/^[^:\s]+:\d{1,5}$/, 'host:port');

/** Kafka bootstrap brokers. */
export const kafkaSchema = z
  .object({
    brokers: z.array(hostPort).min(1),
    clientId: z.string().min(1).default('shardline'),
    /** TLS to the brokers (`mode` disabled: plain TCP). */
    tls: tlsSchema.optional(),
    /** SASL authentication (over TLS unless you accept a password on the wire: SCRAM never sends it, PLAIN does). */
    sasl: z
      .object({ mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']), username: z.string().min(1), password: z.string() })
      .strict()
      .optional(),
    dev: z
      .object({ version: z.string().default('4.1.2'), controllerPort: port.default(9093) })
      .strict()
      .optional(),
  })
  .strict();

/** Elasticsearch endpoint. */
export const elasticsearchSchema = z
  .object({
    node: z.url(),
    /** TLS of an `https://` node: `ca` (file) and/or `caFingerprint` (SHA-256 of the CA certificate, hex). */
    tls: tlsSchema
      .safeExtend({
        caFingerprint: z
          .string()
          .regex(/^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, 'SHA-256 fingerprint in hex')
          .optional(),
      })
      .optional(),
    /** Basic auth or an API key (the base64 `id:api_key` Elasticsearch returns as `encoded`). */
    auth: z
      .union([z.object({ username: z.string().min(1), password: z.string() }).strict(), z.object({ apiKey: z.string().min(1) }).strict()])
      .optional(),
    dev: z
      .object({ version: z.string().default('8.19.21'), transportPort: port.default(9300) })
      .strict()
      .optional(),
  })
  .strict();

/**
 * The whole cluster: shard instances and, for the CDC and the local cluster only, the archive,
 * Kafka and Elasticsearch. A router needs `instances` alone; commands that need more check it
 * with `requireSections`.
 */
export const clusterConfigSchema = z
  .object({
    instances: z.array(instanceSchema).min(1),
    archive: archiveSchema.optional(),
    kafka: kafkaSchema.optional(),
    elasticsearch: elasticsearchSchema.optional(),
    sharding: shardingSchema.default(() => shardingSchema.parse({})),
    pool: poolSchema.default(() => poolSchema.parse({})),
    router: routerSchema.default(() => routerSchema.parse({})),
    cdc: cdcSchema.default(() => cdcSchema.parse({})),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const idInstance = cfg.router.ids.instance;
    if (idInstance !== undefined && !cfg.instances.some((x) => x.name === idInstance))
      ctx.addIssue({ code: 'custom', path: ['router', 'ids', 'instance'], message: `no instance is named ${idInstance}` });
    const names = new Map<string, number>();
    const endpoints = new Map<string, number>();
    const serverIds = new Map<number, number>();
    cfg.instances.forEach((inst, i) => {
      const dupName = names.get(inst.name);
      if (dupName !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['instances', i, 'name'],
          message: `duplicate instance name "${inst.name}" (also instances.${dupName})`,
        });
      }
      names.set(inst.name, i);
      const ep = `${inst.host}:${inst.port}`;
      const dupEp = endpoints.get(ep);
      if (dupEp !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['instances', i, 'port'], message: `${ep} is already used by instances.${dupEp}` });
      }
      endpoints.set(ep, i);
      if (inst.serverId === undefined) return;
      const dupId = serverIds.get(inst.serverId);
      if (dupId !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['instances', i, 'serverId'],
          message: `server id ${inst.serverId} is already used by instances.${dupId}`,
        });
      }
      serverIds.set(inst.serverId, i);
    });
    cfg.instances.forEach((inst, i) =>
      (inst.replicas ?? []).forEach((r, j) => {
        const path = ['instances', i, 'replicas', j];
        const dupName = names.get(r.name);
        if (dupName !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'name'],
            message: `replica name "${r.name}" is already used by instances.${dupName}`,
          });
        names.set(r.name, i);
        const ep = `${r.host}:${r.port}`;
        const dupEp = endpoints.get(ep);
        if (dupEp !== undefined)
          ctx.addIssue({ code: 'custom', path: [...path, 'port'], message: `${ep} is already used by instances.${dupEp}` });
        endpoints.set(ep, i);
        if (r.serverId === undefined) return;
        const dupId = serverIds.get(r.serverId);
        if (dupId !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'serverId'],
            message: `server id ${r.serverId} is already used by instances.${dupId}`,
          });
        serverIds.set(r.serverId, i);
      }),
    );
    if (cfg.archive && names.has(cfg.archive.name)) {
      ctx.addIssue({
        code: 'custom',
        path: ['archive', 'name'],
        message: `archive name "${cfg.archive.name}" clashes with a shard instance`,
      });
    }
    if (cfg.archive && endpoints.has(`${cfg.archive.host}:${cfg.archive.port}`)) {
      ctx.addIssue({ code: 'custom', path: ['archive', 'port'], message: 'the archive must not share a server with a shard instance' });
    }
    if (cfg.archive) {
      const a = cfg.router.analytics;
      const live = a.viewsDatabase ?? `${cfg.archive.database}_live`;
      const current = a.currentViewsDatabase ?? `${cfg.archive.database}_current`;
      const checks = [
        { name: live, key: 'viewsDatabase', set: a.viewsDatabase !== undefined, what: 'analytics views database' },
        { name: current, key: 'currentViewsDatabase', set: a.currentViewsDatabase !== undefined, what: 'analytics current-views database' },
      ] as const;
      for (const c of checks) {
        const path = c.set ? ['router', 'analytics', c.key] : ['archive', 'database'];
        if (c.name.length > 64)
          ctx.addIssue({
            code: 'custom',
            path,
            message: `the ${c.what} "${c.name}" is longer than 64 characters: set router.analytics.${c.key}`,
          });
        else if (c.name === cfg.archive.database || c.name === cfg.sharding.naming.metaDatabase)
          ctx.addIssue({
            code: 'custom',
            path,
            message: `the ${c.what} "${c.name}" must differ from the archive and meta databases`,
          });
      }
      if (live === current)
        ctx.addIssue({
          code: 'custom',
          path: ['router', 'analytics', 'currentViewsDatabase'],
          message: `router.analytics.currentViewsDatabase "${current}" must differ from the views database`,
        });
    }
    checkShardMap(cfg, names, ctx);
  });

function checkShardMap(
  cfg: {
    sharding: {
      shards: number;
      map?: { ranges: { from: number; to: number; instance: string }[] } | undefined;
      tables: Record<string, unknown>;
      broadcast: string[];
    };
  },
  names: Map<string, number>,
  ctx: z.RefinementCtx,
): void {
  const { shards, map, tables, broadcast } = cfg.sharding;
  for (const name of broadcast) {
    if (name in tables)
      ctx.addIssue({ code: 'custom', path: ['sharding', 'broadcast'], message: `table "${name}" cannot be both sharded and broadcast` });
  }
  if (!map) {
    if (shards < names.size)
      ctx.addIssue({
        code: 'custom',
        path: ['sharding', 'shards'],
        message: `${shards} shards cannot be spread over ${names.size} instances`,
      });
    return;
  }
  const owner = new Array<number>(shards).fill(-1);
  map.ranges.forEach((range, i) => {
    if (!names.has(range.instance)) {
      ctx.addIssue({ code: 'custom', path: ['sharding', 'map', 'ranges', i, 'instance'], message: `unknown instance "${range.instance}"` });
    }
    if (range.to >= shards) {
      ctx.addIssue({
        code: 'custom',
        path: ['sharding', 'map', 'ranges', i, 'to'],
        message: `shard ${range.to} is out of range 0..${shards - 1}`,
      });
      return;
    }
    for (let s = range.from; s <= range.to; s++) {
      if (owner[s] !== -1) {
        ctx.addIssue({ code: 'custom', path: ['sharding', 'map', 'ranges', i], message: `shard ${s} is also in ranges.${owner[s]}` });
        return;
      }
      owner[s] = i;
    }
  });
  const missing = owner.indexOf(-1);
  if (missing !== -1)
    ctx.addIssue({ code: 'custom', path: ['sharding', 'map', 'ranges'], message: `shard ${missing} is not mapped to any instance` });
}

/** A validated cluster configuration (what `loadClusterConfig` returns). */
export type ClusterConfig = z.infer<typeof clusterConfigSchema>;
/**
 * A cluster configuration as written (YAML, JSON or an object literal): fields with defaults
 * may be left out. See `defineConfig`.
 */
export type ClusterConfigInput = z.input<typeof clusterConfigSchema>;
/** One validated shard instance. */
export type InstanceConfig = z.infer<typeof instanceSchema>;
export type ReplicaConfig = z.infer<typeof replicaSchema>;
/** The validated archive endpoint. */
export type ArchiveConfig = z.infer<typeof archiveSchema>;
/** The validated Kafka section. */
export type KafkaConfig = z.infer<typeof kafkaSchema>;
/** The validated Elasticsearch section. */
export type ElasticsearchConfig = z.infer<typeof elasticsearchSchema>;
/** The login of one MySQL-protocol account. */
export type Credentials = z.infer<typeof credentialsSchema>;
