import { ConfigError } from '../errors/index.js';
import type { ArchiveConfig, ClusterConfig, Credentials, ElasticsearchConfig, InstanceConfig, KafkaConfig } from './cluster-schema.js';

/**
 * Parts of the cluster config that only some commands need; the router needs none of them.
 * `replication` and `serverId` are per instance: every instance must have them.
 */
export type OptionalSection = 'archive' | 'kafka' | 'elasticsearch' | 'replication' | 'serverId';

interface TopSections {
  archive: ArchiveConfig;
  kafka: KafkaConfig;
  elasticsearch: ElasticsearchConfig;
}
type Top<S extends OptionalSection> = Extract<S, keyof TopSections>;
type PerInstance<S extends OptionalSection> = ('replication' extends S ? { replication: Credentials } : unknown) &
  ('serverId' extends S ? { serverId: number } : unknown);

/** A shard instance with the CDC's replication account and its `server_id`. */
export type CdcInstanceConfig = InstanceConfig & { replication: Credentials; serverId: number };

/** A cluster config known to have the sections `S` (see {@link requireSections}). */
export type ConfigWith<S extends OptionalSection> = Omit<ClusterConfig, Top<S> | 'instances'> &
  Pick<TopSections, Top<S>> & { instances: (InstanceConfig & PerInstance<S>)[] };

/** A config with every section: what the CDC worker, the demo and the local cluster need. */
export type CdcClusterConfig = ConfigWith<OptionalSection>;

/** Every optional section, for the commands that run the whole pipeline. */
export const ALL_SECTIONS: readonly OptionalSection[] = ['archive', 'kafka', 'elasticsearch', 'replication', 'serverId'];

const WHAT: Record<OptionalSection, string> = {
  archive: 'the `archive` section',
  kafka: 'the `kafka` section',
  elasticsearch: 'the `elasticsearch` section',
  replication: '`replication` (the binlog account)',
  serverId: '`serverId`',
};

/**
 * Checks that `config` has `sections` and returns it typed so.
 *
 * @example
 * const cdcConfig = requireSections(config, ['kafka', 'replication'], 'the CDC worker');
 * @throws {ConfigError} `CONFIG_INVALID` naming each missing section (`details.fields`: their paths).
 */
export function requireSections<S extends OptionalSection>(config: ClusterConfig, sections: readonly S[], purpose: string): ConfigWith<S> {
  const fields: string[] = [];
  const what: string[] = [];
  for (const section of sections as readonly OptionalSection[]) {
    if (section === 'replication' || section === 'serverId') {
      const lacking = config.instances.flatMap((inst, i) => (inst[section] === undefined ? [`instances.${i}.${section}`] : []));
      if (lacking.length === 0) continue;
      fields.push(...lacking);
      const names = config.instances.filter((inst) => inst[section] === undefined).map((inst) => inst.name);
      what.push(`${WHAT[section]} on instance${names.length > 1 ? 's' : ''} ${names.join(', ')}`);
    } else if (config[section] === undefined) {
      fields.push(section);
      what.push(WHAT[section]);
    }
  }
  if (fields.length > 0) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `${purpose} needs ${what.join(', ')} in the cluster config (a router needs only \`instances\`)`,
      {
        details: { fields, missing: fields },
      },
    );
  }
  return config as ConfigWith<S>;
}
