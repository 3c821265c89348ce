import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { esClientOptions } from '../../src/cdc/sinks/elasticsearch/index.js';
import { bundledClusterConfig, loadClusterConfig, parseClusterConfig } from '../../src/config/index.js';
import { withDevTls } from '../../src/devcluster/dev-tls.js';
import { describeServices } from '../../src/devcluster/service-spec.js';
import { stateDir } from '../../src/devcluster/state-dir.js';
import { ShardlineError } from '../../src/errors/index.js';
import { mysqlSecurityOptions } from '../../src/net/index.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'shardline-tls-unit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const base = {
  instances: [
    {
      name: 'shard-0',
      flavour: 'mysql',
      host: '127.0.0.1',
      port: 3311,
      user: 'u',
      password: 'p',
      replication: { user: 'r', password: 'p' },
      serverId: 1,
    },
  ],
  archive: { host: '127.0.0.1', port: 3320, user: 'u', password: 'p' },
  kafka: { brokers: ['127.0.0.1:9092'] },
  elasticsearch: { node: 'https://127.0.0.1:9200' },
};

describe('TLS and authentication config', () => {
  it('defaults tls.mode to verify-full and resolves relative files against the config file folder', () => {
    const dir = path.join(tmp, 'conf');
    execFileSync('mkdir', ['-p', dir]);
    const file = path.join(dir, 'cluster.json');
    const doc = structuredClone(base) as Record<string, any>;
    doc['instances'][0].tls = { ca: 'certs/ca.pem' };
    doc['instances'][0].serverPublicKey = '/abs/key.pem';
    doc['archive'].tls = { mode: 'verify-ca', ca: '../ca.pem', cert: 'c.pem', key: 'k.pem' };
    doc['kafka'].tls = { ca: 'kafka-ca.pem' };
    doc['kafka'].sasl = { mechanism: 'scram-sha-512', username: 'app', password: 's' };
    doc['elasticsearch'].tls = { caFingerprint: 'AB:'.repeat(31) + 'AB' };
    doc['elasticsearch'].auth = { apiKey: 'a2V5' };
    writeFileSync(file, JSON.stringify(doc));
    const config = loadClusterConfig(file);
    expect(config.instances[0]!.tls).toEqual({ mode: 'verify-full', ca: path.join(dir, 'certs/ca.pem') });
    expect(config.instances[0]!.serverPublicKey).toBe('/abs/key.pem');
    expect(config.archive?.tls).toEqual({
      mode: 'verify-ca',
      ca: path.join(tmp, 'ca.pem'),
      cert: path.join(dir, 'c.pem'),
      key: path.join(dir, 'k.pem'),
    });
    expect(config.kafka?.tls?.ca).toBe(path.join(dir, 'kafka-ca.pem'));
    expect(config.elasticsearch?.auth).toEqual({ apiKey: 'a2V5' });
  });

  it.each([
    ['a client cert without its key', (d: any) => (d.instances[0].tls = { cert: 'c.pem' }), 'instances.0.tls'],
    ['an unknown TLS mode', (d: any) => (d.archive.tls = { mode: 'preferred' }), 'archive.tls.mode'],
    [
      'an unknown SASL mechanism',
      (d: any) => (d.kafka.sasl = { mechanism: 'gssapi', username: 'a', password: 'b' }),
      'kafka.sasl.mechanism',
    ],
    ['a malformed CA fingerprint', (d: any) => (d.elasticsearch.tls = { caFingerprint: 'abc' }), 'elasticsearch.tls.caFingerprint'],
    [
      'both an API key and a password',
      (d: any) => (d.elasticsearch.auth = { apiKey: 'k', username: 'u', password: 'p' }),
      'elasticsearch.auth',
    ],
  ])('refuses %s', (_what, mutate, field) => {
    const doc = structuredClone(base) as Record<string, any>;
    mutate(doc);
    expect(() => parseClusterConfig(doc)).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(field) }),
    );
  });

  it('the bundled dev config pins the MySQL servers\u2019 public keys (caching_sha2_password over plain TCP)', () => {
    const config = loadClusterConfig(bundledClusterConfig, {});
    for (const inst of config.instances.filter((i) => i.flavour === 'mysql'))
      expect(inst.serverPublicKey).toMatch(new RegExp(`/data/${inst.name}/public_key\\.pem$`));
    expect(config.archive?.serverPublicKey).toMatch(/\/data\/archive\/public_key\.pem$/);
  });
});

describe('mysqlSecurityOptions', () => {
  const ca = path.join(tmp, 'some-ca.pem');
  beforeAll(() => writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n'));

  it.each([
    ['required', false, false],
    ['verify-ca', true, false],
    ['verify-full', true, true],
  ] as const)('%s: rejectUnauthorized %s, verifyIdentity %s', (mode, rejectUnauthorized, verifyIdentity) => {
    const o = mysqlSecurityOptions({ host: 'db.internal', port: 3306, tls: { mode, ca } });
    expect(o.ssl).toMatchObject({ rejectUnauthorized, verifyIdentity, ca: readFileSync(ca) });
    expect(o.authPlugins).toBeUndefined(); // over TLS the password travels inside the encrypted channel
  });

  it('without TLS, installs auth plugins that refuse an unpinned RSA key; none over a unix socket', () => {
    const o = mysqlSecurityOptions({ host: '127.0.0.1', port: 3306 });
    expect(o.ssl).toBeUndefined();
    expect(Object.keys(o.authPlugins ?? {})).toEqual(['caching_sha2_password', 'sha256_password']);
    expect(mysqlSecurityOptions({ socketPath: '/tmp/x.sock' })).toEqual({});
  });

  it('a missing file is CONFIG_INVALID naming the instance, the field and the file', () => {
    const missing = path.join(tmp, 'nope.pem');
    let err: unknown;
    try {
      mysqlSecurityOptions({ name: 'shard-9', host: '127.0.0.1', port: 3306, tls: { mode: 'verify-full', ca: missing } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ShardlineError);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(new RegExp(`shard-9.*tls\\.ca.*${missing}`)) });
  });
});

describe('esClientOptions', () => {
  it('sends the API key as `Authorization: ApiKey …`, basic auth as Basic', async () => {
    const seen: (string | undefined)[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
      res.end('{"cluster_name":"x","status":"green"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const node = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      for (const auth of [{ apiKey: 'aWQ6a2V5' }, { username: 'app', password: 's3cret' }]) {
        const client = new Client({ node, ...esClientOptions({ auth }) });
        await client.cluster.health();
        await client.close();
      }
    } finally {
      server.close();
    }
    expect(seen).toEqual(['ApiKey aWQ6a2V5', `Basic ${Buffer.from('app:s3cret').toString('base64')}`]);
  });

  it('a CA fingerprint without a CA file lets the client check the chain\u2019s root instead of Node\u2019s roots', () => {
    const fp = 'AB:'.repeat(31) + 'AB';
    expect(esClientOptions({ tls: { mode: 'verify-full', caFingerprint: fp } })).toMatchObject({
      caFingerprint: fp,
      tls: { rejectUnauthorized: false },
    });
    expect(esClientOptions({ tls: { mode: 'disabled', caFingerprint: fp } })).toEqual({});
  });
});

describe('dev up --tls', () => {
  it('makes a CA with openssl and gives the SQL services and Kafka TLS (Kafka SSL on port + 2, SASL_SSL on + 3)', async () => {
    const config = loadClusterConfig(bundledClusterConfig, {});
    const dir = stateDir(path.join(tmp, 'state'));
    const specs = await withDevTls(describeServices(config), config, dir);
    const kafka = specs.find((s) => s.kind === 'kafka')!;
    expect(kafka.tls?.kafka).toMatchObject({
      sslPort: kafka.port + 2,
      saslSslPort: kafka.port + 3,
      users: [{ username: 'shardline', password: 'shardline' }],
    });
    expect(specs.find((s) => s.kind === 'elasticsearch')!.tls).toBeUndefined();
    const sql = specs.filter((s) => s.kind === 'mysql' || s.kind === 'mariadb');
    expect(sql.every((s) => s.tls?.ca === path.join(dir.root, 'tls', 'ca.pem'))).toBe(true);
    const tls = sql[0]!.tls!;
    expect(execFileSync('openssl', ['verify', '-CAfile', tls.ca, tls.cert]).toString()).toMatch(/: OK/);
    const cert = new X509Certificate(readFileSync(tls.cert));
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
  });
});
