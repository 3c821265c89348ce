import type { ConnectionOptions } from 'node:tls';
import { MAX_PEM_FILE_BYTES, readBoundedFile } from '../config/bounded-file.js';
import { ConfigError } from '../errors/index.js';
import type { TlsSettings } from './mysql-security.js';

/**
 * Node TLS options of a service's `tls` config section (Kafka, Elasticsearch); null when TLS is
 * off. CA, certificate and key files are read now; a missing file is `CONFIG_INVALID` naming
 * `service` and the field.
 */
export function nodeTlsOptions(tls: TlsSettings | undefined, service: string): ConnectionOptions | null {
  if (!tls || tls.mode === 'disabled') return null;
  const read = (file: string, field: string): Buffer => {
    try {
      return readBoundedFile(file, MAX_PEM_FILE_BYTES, `${service}: ${field} file`);
    } catch (cause) {
      if (cause instanceof ConfigError) throw cause;
      throw new ConfigError(
        'CONFIG_INVALID',
        `${service}: cannot read ${field} file ${file}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`,
        { cause },
      );
    }
  };
  return {
    ...(tls.ca ? { ca: [read(tls.ca, 'tls.ca')] } : {}),
    ...(tls.cert ? { cert: read(tls.cert, 'tls.cert') } : {}),
    ...(tls.key ? { key: read(tls.key, 'tls.key') } : {}),
    rejectUnauthorized: tls.mode !== 'required',
    ...(tls.mode === 'verify-full' ? {} : { checkServerIdentity: () => undefined }),
  };
}
