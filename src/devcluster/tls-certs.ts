import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DevClusterError } from '../errors/index.js';
import { run } from './local/spawn.js';

/** PEM files of the dev cluster's own certificate authority and the certificates it signed. */
export interface DevCertificates {
  dir: string;
  /** The CA certificate clients trust (`tls.ca` in the cluster config). */
  ca: string;
  caKey: string;
  /** One server certificate for every service, naming the given hosts (IP and DNS SANs). */
  serverCert: string;
  serverKey: string;
  /** A client certificate (for `tls.cert` / `tls.key`). */
  clientCert: string;
  clientKey: string;
  /** The server key (PKCS#8) followed by its certificate: Kafka's PEM keystore. */
  keystore: string;
  /** SHA-256 fingerprint of the CA certificate (hex with colons), for Elasticsearch's `caFingerprint`. */
  caFingerprint: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await run('openssl', args, { cwd });
  if (r.code !== 0)
    throw new DevClusterError(
      'DEV_START_FAILED',
      `openssl ${args[0]} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
    );
}

/**
 * Creates (once; later calls reuse the files) a self-signed CA in `dir` and server and client
 * certificates signed by it, with openssl. Keys are written with mode 0600, the folder 0700.
 * Test and dev use only: the CA key stays next to the certificates.
 */
export async function ensureDevCertificates(dir: string, hosts: readonly string[] = ['127.0.0.1', 'localhost']): Promise<DevCertificates> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (name: string) => path.join(dir, name);
  const out: Omit<DevCertificates, 'caFingerprint'> = {
    dir,
    ca: f('ca.pem'),
    caKey: f('ca-key.pem'),
    serverCert: f('server-cert.pem'),
    serverKey: f('server-key.pem'),
    clientCert: f('client-cert.pem'),
    clientKey: f('client-key.pem'),
    keystore: f('server-keystore.pem'),
  };
  if (!existsSync(out.keystore)) {
    await openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        out.caKey,
        '-out',
        out.ca,
        '-days',
        '3650',
        '-subj',
        '/CN=shardline dev CA',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      dir,
    );
    const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
    for (const [cert, key, cn, usage] of [
      [out.serverCert, out.serverKey, hosts.find((h) => !/^[\d.]+$|:/.test(h)) ?? 'localhost', 'serverAuth,clientAuth'],
      [out.clientCert, out.clientKey, 'shardline-client', 'clientAuth'],
    ] as const) {
      const csr = `${cert}.csr`;
      const ext = `${cert}.ext`;
      writeFileSync(
        ext,
        `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=${usage}\nsubjectAltName=${san}\n`,
      );
      await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`], dir);
      await openssl(
        [
          'x509',
          '-req',
          '-in',
          csr,
          '-CA',
          out.ca,
          '-CAkey',
          out.caKey,
          '-CAcreateserial',
          '-out',
          cert,
          '-days',
          '825',
          '-sha256',
          '-extfile',
          ext,
        ],
        dir,
      );
    }
    for (const key of [out.caKey, out.serverKey, out.clientKey]) chmodSync(key, 0o600);
    writeFileSync(out.keystore, readFileSync(out.serverKey, 'utf8') + readFileSync(out.serverCert, 'utf8'), { mode: 0o600 });
  }
  return { ...out, caFingerprint: fingerprint(readFileSync(out.ca, 'utf8')) };
}

/** SHA-256 of the certificate's DER bytes, as `AA:BB:…`. */
function fingerprint(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}
