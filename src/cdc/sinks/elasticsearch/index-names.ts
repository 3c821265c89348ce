import { ConfigError } from '../../../errors/index.js';

/** The Elasticsearch names that serve one logical table. */
export interface IndexNames {
  /**
   * `<prefix><table>`: the alias users search, GET and `_mget`, and the sink writes through. A
   * deleted row is really deleted from the index behind it (by-id reads say `found: false`); its
   * filter (`TOMBSTONE_FILTER`) still hides tombstone documents written by earlier versions.
   */
  alias: string;
  /** `<prefix><table>.v1`: the concrete index behind the alias (a reindex would add `.v2`). */
  index: string;
  /** `<prefix><table>`: the composable index template that creates `index` with its mapping and alias. */
  template: string;
  /**
   * `<prefix><table>.tombstones`: the alias of the table's tombstones — one document per deleted
   * id holding the delete's version, so that no late replay of an older write brings the row back
   * (the sink checks it before indexing). Not for readers.
   */
  tombstones: string;
  /** `<prefix><table>.tombstones.v1`: the concrete index behind `tombstones`. */
  tombstoneIndex: string;
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
  return { alias, index: `${alias}.v1`, template: alias, tombstones: `${alias}.tombstones`, tombstoneIndex: `${alias}.tombstones.v1` };
}
