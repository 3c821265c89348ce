import { ConfigError } from '../../../errors/index.js';

/** The Elasticsearch names that serve one logical table. */
export interface IndexNames {
  /**
   * `<prefix><table>`: the filtered alias users search and the sink writes through. It hides
   * tombstones (see `TOMBSTONE_FILTER`), so deleted rows are absent from every search on it.
   */
  alias: string;
  /** `<prefix><table>.v1`: the concrete index behind the alias (a reindex would add `.v2`). */
  index: string;
  /** `<prefix><table>`: the composable index template that creates `index` with its mapping and alias. */
  template: string;
}

/** Characters Elasticsearch refuses in index names. */
const FORBIDDEN = /[\\/*?"<>| ,#:]/;

/**
 * The alias, concrete index and template names of a logical table. Index names are lower case in
 * Elasticsearch, so the table name is lowered.
 * @throws {ConfigError} CONFIG_INVALID (field `cdc.elasticsearch.indexPrefix`) for a name Elasticsearch cannot hold.
 */
export function indexNamesFor(indexPrefix: string, table: string): IndexNames {
  const alias = `${indexPrefix}${table.toLowerCase()}`;
  if (table === '' || FORBIDDEN.test(alias) || /^[-_+]/.test(alias) || alias === '.' || alias === '..' || Buffer.byteLength(alias) > 240) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `"${alias}" (prefix "${indexPrefix}", table "${table}") is not a valid Elasticsearch index name`,
      { details: { field: 'cdc.elasticsearch.indexPrefix', table } },
    );
  }
  return { alias, index: `${alias}.v1`, template: alias };
}
