import { z } from 'zod';
import { cdcSchema } from './cdc-schema.js';
import { poolSchema, shardingSchema } from './sharding-schema.js';

const name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, starting with a letter');
const host = z.string().min(1);
const port = z.number().int().min(1).max(65535);

/** Credentials of one MySQL-protocol account. */
export const credentialsSchema = z
  .object({
    user: z.string().min(1),
    password: z.string(),
  })
  .strict();

/** What the native local cluster runs for an instance (ignored outside `shardline dev`). */
const devSchema = z
  .object({
    /** Server version the native dev cluster installs, e.g. `8.0`, `9.7`, `10.11`. */
    version: z.string().regex(/^\d+\.\d+$/),
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
    replication: credentialsSchema,
    /** The server's own `server_id`; unique in the fleet. */
    serverId: z.number().int().min(1).max(4294967295),
    dev: devSchema.optional(),
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
    database: z.string().regex(/^[A-Za-z0-9_]{1,64}$/).default('shardline_archive'),
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
    dev: z
      .object({ version: z.string().default('8.19.21'), transportPort: port.default(9300) })
      .strict()
      .optional(),
  })
  .strict();

/** The whole cluster: shard instances, archive, Kafka and Elasticsearch. */
export const clusterConfigSchema = z
  .object({
    instances: z.array(instanceSchema).min(1),
    archive: archiveSchema,
    kafka: kafkaSchema,
    elasticsearch: elasticsearchSchema,
    sharding: shardingSchema.default(() => shardingSchema.parse({})),
    pool: poolSchema.default(() => poolSchema.parse({})),
    cdc: cdcSchema.default(() => cdcSchema.parse({})),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const names = new Map<string, number>();
    const endpoints = new Map<string, number>();
    const serverIds = new Map<number, number>();
    cfg.instances.forEach((inst, i) => {
      const dupName = names.get(inst.name);
      if (dupName !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['instances', i, 'name'], message: `duplicate instance name "${inst.name}" (also instances.${dupName})` });
      }
      names.set(inst.name, i);
      const ep = `${inst.host}:${inst.port}`;
      const dupEp = endpoints.get(ep);
      if (dupEp !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['instances', i, 'port'], message: `${ep} is already used by instances.${dupEp}` });
      }
      endpoints.set(ep, i);
      const dupId = serverIds.get(inst.serverId);
      if (dupId !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['instances', i, 'serverId'], message: `server id ${inst.serverId} is already used by instances.${dupId}` });
      }
      serverIds.set(inst.serverId, i);
    });
    if (names.has(cfg.archive.name)) {
      ctx.addIssue({ code: 'custom', path: ['archive', 'name'], message: `archive name "${cfg.archive.name}" clashes with a shard instance` });
    }
    if (endpoints.has(`${cfg.archive.host}:${cfg.archive.port}`)) {
      ctx.addIssue({ code: 'custom', path: ['archive', 'port'], message: 'the archive must not share a server with a shard instance' });
    }
    checkShardMap(cfg, names, ctx);
  });

function checkShardMap(
  cfg: { sharding: { shards: number; map?: { ranges: { from: number; to: number; instance: string }[] } | undefined; tables: Record<string, unknown>; broadcast: string[] } },
  names: Map<string, number>,
  ctx: z.RefinementCtx,
): void {
  const { shards, map, tables, broadcast } = cfg.sharding;
  for (const name of broadcast) {
    if (name in tables) ctx.addIssue({ code: 'custom', path: ['sharding', 'broadcast'], message: `table "${name}" cannot be both sharded and broadcast` });
  }
  if (!map) {
    if (shards < names.size) ctx.addIssue({ code: 'custom', path: ['sharding', 'shards'], message: `${shards} shards cannot be spread over ${names.size} instances` });
    return;
  }
  const owner = new Array<number>(shards).fill(-1);
  map.ranges.forEach((range, i) => {
    if (!names.has(range.instance)) {
      ctx.addIssue({ code: 'custom', path: ['sharding', 'map', 'ranges', i, 'instance'], message: `unknown instance "${range.instance}"` });
    }
    if (range.to >= shards) {
      ctx.addIssue({ code: 'custom', path: ['sharding', 'map', 'ranges', i, 'to'], message: `shard ${range.to} is out of range 0..${shards - 1}` });
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
  if (missing !== -1) ctx.addIssue({ code: 'custom', path: ['sharding', 'map', 'ranges'], message: `shard ${missing} is not mapped to any instance` });
}

/** A validated cluster configuration. */
export type ClusterConfig = z.infer<typeof clusterConfigSchema>;
/** One validated shard instance. */
export type InstanceConfig = z.infer<typeof instanceSchema>;
/** The validated archive endpoint. */
export type ArchiveConfig = z.infer<typeof archiveSchema>;
