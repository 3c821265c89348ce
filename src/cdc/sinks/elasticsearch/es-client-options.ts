import type { ClientOptions } from '@elastic/elasticsearch';
import { nodeTlsOptions, type TlsSettings } from '../../../net/index.js';

/**
 * The `elasticsearch` config section's security: TLS (CA file and/or the SHA-256 fingerprint of
 * the CA certificate) and basic auth or an API key.
 */
export interface EsSecurity {
  tls?: (TlsSettings & { caFingerprint?: string | undefined }) | undefined;
  auth?: { username: string; password: string } | { apiKey: string } | undefined;
}

/**
 * `@elastic/elasticsearch` client options of an {@link EsSecurity} (besides `node`): `tls` from
 * the CA/client files and mode, `caFingerprint`, `auth`.
 *
 * @example
 * const client = new Client({ node: config.elasticsearch.node, ...esClientOptions(config.elasticsearch) });
 */
export function esClientOptions(security: EsSecurity): Pick<ClientOptions, 'tls' | 'caFingerprint' | 'auth'> {
  const tls = nodeTlsOptions(security.tls, 'elasticsearch');
  const fp = tls ? security.tls?.caFingerprint : undefined;
  // A pinned CA fingerprint without a CA file: the chain is not trusted by Node's roots, the
  // client checks instead that the chain's root has this SHA-256 (the host name is not checked).
  if (tls && fp && !security.tls?.ca) tls.rejectUnauthorized = false;
  return {
    ...(tls ? { tls } : {}),
    ...(fp ? { caFingerprint: fp } : {}),
    ...(security.auth ? { auth: security.auth } : {}),
  };
}

const TLS_MESSAGE = /certificate|self[- ]signed|unable to (get|verify)|SSL|TLS|altname|does not match certificate|fingerprint/i;

/** Whether an Elasticsearch client error is a failed TLS handshake or certificate check (never fixed by retrying). */
export function isTlsFailure(err: unknown): boolean {
  const e = err as { name?: unknown; message?: unknown; code?: unknown } | null;
  return (
    !!e && e.name === 'ConnectionError' && (TLS_MESSAGE.test(String(e.message)) || (typeof e.code === 'string' && TLS_MESSAGE.test(e.code)))
  );
}
