import type { Registry } from 'prom-client';
import type { ClusterConfig } from '../../config/index.js';
import { ConfigError } from '../../errors/index.js';
import type { Logger } from '../../log/logger.js';
import { Topology } from '../../shard/index.js';
import { SourceSchemas } from '../schema/source-schema.js';
import { ArchiveSink } from './archive/index.js';
import { EsSink } from './elasticsearch/index.js';
import { esClientOptions } from './elasticsearch/es-client-options.js';
import type { Sink } from './sink-record.js';

/** The config section a sink writes to, or CONFIG_INVALID naming it (as `requireSections` in config/). */
function section<K extends 'elasticsearch' | 'archive'>(config: ClusterConfig, key: K, sink: string): NonNullable<ClusterConfig[K]> {
  const value = config[key];
  if (value === undefined || value === null) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `${sink} needs the \`${key}\` section in the cluster config (a router needs only \`instances\`)`,
      { details: { fields: [key], missing: [key] } },
    );
  }
  return value;
}

/** The sinks of a cluster config, built lazily, and what they share (source schemas). */
export function buildSinks(
  config: ClusterConfig,
  deps: { registry: Registry; logger: Logger },
): { factories: Partial<Record<'elasticsearch' | 'archive', () => Sink>>; close(): Promise<void> } {
  const topology = new Topology(
    config.sharding,
    config.instances.map((i) => i.name),
  );
  const passThrough = new Map(
    (config.cdc.tables.include ?? []).filter((t) => t.includes('.')).map((t) => [t.split('.')[1]!, t.split('.')[0]!] as [string, string]),
  );
  const schemas = new SourceSchemas(config, topology, passThrough);
  return {
    factories: {
      elasticsearch: () => {
        const elasticsearch = section(config, 'elasticsearch', 'the Elasticsearch sink');
        return new EsSink({
          node: elasticsearch.node,
          clientOptions: esClientOptions(elasticsearch),
          indexPrefix: config.cdc.elasticsearch.indexPrefix,
          bulkMaxDocs: config.cdc.elasticsearch.bulkMaxDocs,
          bulkMaxBytes: config.cdc.elasticsearch.bulkMaxBytes,
          maxConcurrentWrites: config.cdc.elasticsearch.concurrency,
          template: { refreshInterval: config.cdc.elasticsearch.refreshInterval },
          archivedSearch: (table) => config.sharding.tables[table]?.archival?.search ?? 'keep',
          schemaOf: (table) => schemas.schemaOf(table, { refresh: true }),
          registry: deps.registry,
          logger: deps.logger,
        });
      },
      archive: () => {
        const archive = section(config, 'archive', 'the archive sink');
        return new ArchiveSink({
          archive,
          database: archive.database,
          maxBatchRows: config.cdc.archive.maxBatchRows,
          maxBatchBytes: config.cdc.archive.maxBatchBytes,
          schemaOf: (table, options) => schemas.schemaOf(table, options),
          registry: deps.registry,
          logger: deps.logger,
        });
      },
    },
    close: () => schemas.close(),
  };
}
