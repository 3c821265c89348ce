import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { ClientOptions } from '@elastic/elasticsearch';
import { ShardlineError } from '../../../errors/index.js';
import type { TlsSettings } from '../../../net/index.js';

/**
 * The `elasticsearch` config section's security: TLS (CA file and/or the SHA-256 fingerprint of
 * the CA certificate) and basic auth or an API key.
 */
export interface EsSecurity {
  tls?: (TlsSettings & { caFingerprint?: string | undefined }) | undefined;
  auth?: { username: string; password: string } | { apiKey: string } | undefined;
}

function read(file: string, field: string): Buffer {
  try {
    return readFileSync(file);
  } catch (cause) {
    throw new ShardlineError('CONFIG_INVALID', `elasticsearch: cannot read ${field} file ${file}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
  }
}

/** Node TLS options of the `elasticsearch.tls` section; null when TLS is off. */
function nodeTlsOptions(tls: TlsSettings | undefined): ConnectionOptions | null {
  if (!tls || tls.mode === 'disabled') return null;
  return {
    ...(tls.ca ? { ca: [read(tls.ca, 'tls.ca')] } : {}),
    ...(tls.cert ? { cert: read(tls.cert, 'tls.cert') } : {}),
    ...(tls.key ? { key: read(tls.key, 'tls.key') } : {}),
    rejectUnauthorized: tls.mode !== 'required',
    ...(tls.mode === 'verify-full' ? {} : { checkServerIdentity: () => undefined }),
  };
}

/**
 * `@elastic/elasticsearch` client options of an {@link EsSecurity} (besides `node`): `tls` from
 * the CA/client files and mode, `caFingerprint`, `auth`.
 *
 * @example
 * const client = new Client({ node: config.elasticsearch.node, ...esClientOptions(config.elasticsearch) });
 */
export function esClientOptions(security: EsSecurity): Pick<ClientOptions, 'tls' | 'caFingerprint' | 'auth'> {
  const tls = nodeTlsOptions(security.tls);
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
  return !!e && e.name === 'ConnectionError' && (TLS_MESSAGE.test(String(e.message)) || (typeof e.code === 'string' && TLS_MESSAGE.test(e.code)));
}
