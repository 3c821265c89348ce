import net, { type Socket } from 'node:net';
import mysql from 'mysql2';
import type { ConnectionOptions } from 'mysql2';
import { MAX_PEM_FILE_BYTES, readBoundedFile } from '../config/bounded-file.js';
import { ConfigError, ConnectionSecurityError } from '../errors/index.js';
import { serverError } from './server-error-class.js';

/**
 * How a MySQL-protocol connection uses TLS, as in MySQL's `--ssl-mode`:
 * - `disabled`: plain TCP;
 * - `required`: encrypted, the server's certificate is not checked (protects against a passive
 *   listener only);
 * - `verify-ca`: encrypted, the certificate must chain to `ca` (or the system's roots);
 * - `verify-full`: as `verify-ca`, and the certificate must name the host connected to.
 * There is no `preferred`: a connection that silently falls back to plain text is a downgrade.
 */
export type TlsMode = 'disabled' | 'required' | 'verify-ca' | 'verify-full';

/** TLS settings of one endpoint: PEM file paths, read when a connection opens (cached). */
export interface TlsSettings {
  mode: TlsMode;
  /** CA bundle the server's certificate must chain to (default: the system's roots). */
  ca?: string | undefined;
  /** Client certificate and key, for servers that require X509 accounts. */
  cert?: string | undefined;
  key?: string | undefined;
}

/** How a MySQL-protocol endpoint is secured; a field of every endpoint type in net/. */
export interface MysqlSecurity {
  /** Instance (or archive) name, for error messages. */
  name?: string;
  tls?: TlsSettings | undefined;
  /**
   * PEM file of the server's RSA public key (`public_key.pem` in its datadir). With
   * caching_sha2_password or sha256_password over plain TCP the password is encrypted with it;
   * without it (and without TLS) the connection is refused rather than trusting a key the
   * server sends unauthenticated.
   */
  serverPublicKey?: string | undefined;
}

/** Marks the error the auth plugins throw when they would have to trust an unauthenticated key. */
const UNPINNED_KEY = Symbol('shardline.unpinnedServerKey');

const files = new Map<string, Buffer>();

/** Reads a PEM file once per process; a missing file is a configuration error naming the field. */
function pem(file: string, field: string, who: string): Buffer {
  let data = files.get(file);
  if (!data) {
    try {
      data = readBoundedFile(file, MAX_PEM_FILE_BYTES, `${who}: ${field} file`);
    } catch (cause) {
      if (cause instanceof ConfigError) throw cause;
      throw new ConfigError(
        'CONFIG_INVALID',
        `${who}: cannot read ${field} file ${file}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`,
        { cause },
      );
    }
    files.set(file, data);
  }
  return data;
}

type PluginFactory = (options: {
  serverPublicKey?: Buffer;
}) => (ctx: { connection: { stream: unknown } }) => (data: Buffer) => Buffer | null | Promise<Buffer | null>;

/**
 * Wraps one of mysql2's RSA-capable auth plugins: the built-in one asks the server for its
 * public key over the unauthenticated channel and trusts whatever comes back (a man in the
 * middle learns the password). The wrapper refuses to send that request.
 */
function refuseKeyRequest(base: PluginFactory, keyRequest: number, serverPublicKey: Buffer | undefined, who: string): PluginFactory {
  return () => (ctx) => {
    const inner = base(serverPublicKey ? { serverPublicKey } : {})(ctx);
    return (data) => {
      const out = inner(data);
      if (Buffer.isBuffer(out) && out.length === 1 && out[0] === keyRequest) {
        throw Object.assign(
          new Error(
            `${who}: the server asks for a full authentication over plain TCP, which needs its RSA public key; refusing to fetch an unauthenticated key — configure tls (mode required or stronger) or serverPublicKey (the server's public_key.pem)`,
          ),
          { [UNPINNED_KEY]: true },
        );
      }
      return out;
    };
  };
}

/**
 * Makes Node check an IP-literal host against the certificate's IP SANs. mysql2 passes no
 * `servername` for an IP host, so Node checks the certificate against the socket's `_host`,
 * which is unset for an IP literal, and falls back to `localhost`: a certificate for localhost
 * would pass for any IP. The check then runs before the password is sent.
 */
export function pinTlsHost(socket: Socket, host: string | undefined): Socket {
  if (host && net.isIP(host)) (socket as Socket & { _host?: string })._host = host;
  return socket;
}

function describe(endpoint: MysqlSecurity & { host?: string | undefined; port?: number | undefined }): string {
  const where = endpoint.host ? `${endpoint.host}:${endpoint.port ?? 3306}` : 'local socket';
  return endpoint.name ? `${endpoint.name} (${where})` : where;
}

/**
 * mysql2 options that apply an endpoint's {@link MysqlSecurity}: `ssl` per its TLS mode (and,
 * for verify-full with an IP host, a `stream` whose socket carries the host for the identity
 * check — callers with a stream of their own use {@link pinTlsHost}) and the auth plugins that
 * never fetch an unpinned RSA key.
 */
export function mysqlSecurityOptions(
  endpoint: MysqlSecurity & { host?: string | undefined; port?: number | undefined; socketPath?: string | undefined },
): Partial<ConnectionOptions> {
  const who = describe(endpoint);
  const tls = endpoint.tls;
  const out: Partial<ConnectionOptions> = {};
  if (tls && tls.mode !== 'disabled') {
    out.ssl = {
      ...(tls.ca ? { ca: pem(tls.ca, 'tls.ca', who) } : {}),
      ...(tls.cert ? { cert: pem(tls.cert, 'tls.cert', who) } : {}),
      ...(tls.key ? { key: pem(tls.key, 'tls.key', who) } : {}),
      rejectUnauthorized: tls.mode !== 'required',
      verifyIdentity: tls.mode === 'verify-full',
    };
    const { host, port } = endpoint;
    if (tls.mode === 'verify-full' && host && net.isIP(host) && !endpoint.socketPath) {
      out.stream = () => pinTlsHost(net.connect({ host, port: port ?? 3306 }), host);
    }
  }
  if (!out.ssl && !endpoint.socketPath) {
    const key = endpoint.serverPublicKey ? pem(endpoint.serverPublicKey, 'serverPublicKey', who) : undefined;
    const plugins = mysql.authPlugins as unknown as Record<string, PluginFactory>;
    out.authPlugins = {
      caching_sha2_password: refuseKeyRequest(plugins['caching_sha2_password']!, 0x02, key, who)({}),
      sha256_password: refuseKeyRequest(plugins['sha256_password']!, 0x01, key, who)({}),
    } as unknown as ConnectionOptions['authPlugins'];
  }
  return out;
}

const TLS_ERROR = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HANDSHAKE_NO_SSL_SUPPORT|ALTNAME/;

/**
 * Turns a failed connect into a typed error when the cause is the transport's security:
 * `TLS_FAILED` (handshake, certificate chain, host name, a server without TLS) or
 * `INSECURE_AUTH` (an RSA key would have to be fetched unauthenticated). Other errors are
 * sanitized and classified ({@link serverError}): a wrong password is `auth`, an unknown host
 * `unknown-host`, both not retriable.
 */
export function securityFailure(err: unknown, endpoint: MysqlSecurity & { host?: string | undefined; port?: number | undefined }): unknown {
  const e = err as { code?: unknown; message?: string; [UNPINNED_KEY]?: boolean };
  const who = describe(endpoint);
  const clean = serverError(err);
  if (e && e[UNPINNED_KEY])
    return new ConnectionSecurityError('INSECURE_AUTH', e.message ?? who, {
      cause: clean,
      details: { instance: endpoint.name, endpoint: who },
    });
  const tls = endpoint.tls;
  if (tls && tls.mode !== 'disabled' && typeof e?.code === 'string' && TLS_ERROR.test(e.code)) {
    return new ConnectionSecurityError(
      'TLS_FAILED',
      `${who}: TLS ${tls.mode} failed (${e.code}: ${e.message ?? ''}); expected a server certificate that ${tls.mode === 'required' ? 'the server presents' : `chains to ${tls.ca ?? 'the system CAs'}${tls.mode === 'verify-full' ? ` and names ${endpoint.host ?? 'the host'}` : ''}`}`,
      { cause: clean, details: { instance: endpoint.name, endpoint: who, mode: tls.mode, tlsCode: e.code } },
    );
  }
  return clean;
}
