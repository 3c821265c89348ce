import path from 'node:path';
import type { ClusterConfig } from '../config/index.js';
import type { ServiceSpec } from './service-spec.js';
import type { StateDir } from './state-dir.js';
import { ensureDevCertificates } from './tls-certs.js';

/**
 * `shardline dev up --tls`: the dev cluster's own CA in `<state>/tls/` (openssl, made once) and
 * TLS on every service besides its plain listener, so clients configured for plain TCP keep
 * working: MySQL/MariaDB with ssl-ca/cert/key, Kafka with an SSL listener on its port + 2 and a
 * SASL_SSL one (PLAIN, SCRAM-SHA-256/512 for `kafka.sasl`'s account, default shardline/shardline)
 * on its port + 3. Elasticsearch stays plain HTTP: with security on it serves HTTPS only, which
 * would cut off every client configured for the plain dev cluster (the service code supports it:
 * `ServiceSpec.tls.elasticsearch`, exercised by test/integration/tls.test.ts).
 */
export async function withDevTls(specs: readonly ServiceSpec[], config: ClusterConfig, dir: StateDir): Promise<ServiceSpec[]> {
  const hosts = [...new Set(['127.0.0.1', 'localhost', ...specs.map((s) => s.host)])];
  const certs = await ensureDevCertificates(path.join(dir.root, 'tls'), hosts);
  const base = { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, keystore: certs.keystore };
  const sasl = config.kafka?.sasl;
  return specs.map((s): ServiceSpec => {
    if (s.kind === 'elasticsearch') return s;
    if (s.kind === 'kafka') {
      return {
        ...s,
        tls: {
          ...base,
          kafka: {
            sslPort: s.port + 2,
            saslSslPort: s.port + 3,
            users: [{ username: sasl?.username ?? 'shardline', password: sasl?.password ?? 'shardline' }],
          },
        },
      };
    }
    return { ...s, tls: base };
  });
}
