import type { KafkaConfig, SASLOptions } from '@shardline/kafkajs';
import { nodeTlsOptions, type TlsSettings } from '../../net/index.js';

/** How the Kafka clients reach the brokers: the `kafka.tls` and `kafka.sasl` config sections. */
export interface KafkaSecurity {
  tls?: TlsSettings | undefined;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string } | undefined;
}

/** kafkajs `ssl` and `sasl` options of a {@link KafkaSecurity}. */
export function kafkajsSecurity(security: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const ssl = nodeTlsOptions(security.tls, 'kafka');
  const s = security.sasl;
  return {
    ...(ssl ? { ssl } : {}),
    ...(s ? { sasl: { mechanism: s.mechanism, username: s.username, password: s.password } as SASLOptions } : {}),
  };
}

const TLS_ERROR = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME/;

/** The TLS error code under a kafkajs error (kafkajs wraps socket errors, keeping `code`), if any. */
export function tlsCodeOf(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown; originalError?: unknown } | undefined, depth = 0; e && depth < 6; depth++) {
    if (typeof e.code === 'string' && TLS_ERROR.test(e.code)) return e.code;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return undefined;
}
