import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DevClusterError } from '../../errors/index.js';
import { probeKafka, type Health } from '../health.js';
import type { ServiceSpec } from '../service-spec.js';
import type { StateDir } from '../state-dir.js';
import { installComponent } from './install.js';
import type { NativeService } from './native-service.js';
import { run, spawnDetached } from './spawn.js';

const LOG4J2 = `status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = info
logger.state.name = state.change.logger
logger.state.level = warn
`;

/** Kafka in KRaft mode (one broker that is also its controller), jars from Maven Central. */
export class KafkaService implements NativeService {
  readonly logFile: string;
  private home = '';
  private readonly dataDir: string;

  constructor(
    readonly spec: ServiceSpec,
    dir: StateDir,
  ) {
    this.logFile = path.join(dir.logs, `${spec.name}.log`);
    this.dataDir = dir.data(spec.name);
  }

  async install(): Promise<string[]> {
    this.home = await installComponent('kafka', { ...process.env, KAFKA_VERSION: this.spec.plannedVersion });
    return [];
  }

  version(): Promise<string> {
    return Promise.resolve(this.spec.plannedVersion);
  }

  private get classpath(): string {
    return `${path.join(this.home, 'libs')}/*`;
  }

  private get propertiesFile(): string {
    return path.join(this.dataDir, 'server.properties');
  }

  async prepare(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });
    const controller = this.spec.extraPorts[0] ?? 9093;
    const h = this.spec.host;
    const tls = this.spec.tls;
    const secure = tls?.kafka ? `,SSL://${h}:${tls.kafka.sslPort},SASL_SSL://${h}:${tls.kafka.saslSslPort}` : '';
    writeFileSync(
      this.propertiesFile,
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@${h}:${controller}`,
        `listeners=PLAINTEXT://${h}:${this.spec.port},CONTROLLER://${h}:${controller}${secure}`,
        `advertised.listeners=PLAINTEXT://${h}:${this.spec.port}${secure}`,
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        `listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${secure ? ',SSL:SSL,SASL_SSL:SASL_SSL' : ''}`,
        ...(tls?.kafka ? kafkaTlsProperties(tls.keystore, tls.ca, tls.kafka.users) : []),
        `log.dirs=${path.join(this.dataDir, 'data')}`,
        'num.partitions=1',
        'offsets.topic.replication.factor=1',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'group.initial.rebalance.delay.ms=0',
        '',
      ].join('\n'),
    );
    writeFileSync(path.join(this.dataDir, 'log4j2.properties'), LOG4J2);
    if (existsSync(path.join(this.dataDir, 'data', 'meta.properties'))) return;
    const id = await run('java', ['-cp', this.classpath, 'kafka.tools.StorageTool', 'random-uuid']);
    const clusterId = id.stdout.trim().split('\n').pop() ?? '';
    const format = await run('java', [
      '-cp',
      this.classpath,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId,
      '-c',
      this.propertiesFile,
    ]);
    if (id.code !== 0 || format.code !== 0) {
      throw new DevClusterError(
        'DEV_START_FAILED',
        `kafka: formatting the KRaft storage failed: ${(id.stderr + format.stderr).trim().split('\n').slice(-5).join(' | ')}`,
      );
    }
  }

  start(): Promise<number> {
    return spawnDetached(
      'java',
      [
        '-Xms256m',
        '-Xmx512m',
        '-XX:+UseSerialGC',
        '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${path.join(this.dataDir, 'log4j2.properties')}`,
        `-Dkafka.logs.dir=${this.dataDir}`,
        '-cp',
        this.classpath,
        'kafka.Kafka',
        this.propertiesFile,
      ],
      { logFile: this.logFile, cwd: this.dataDir },
    );
  }

  ready(): Promise<Health> {
    return probeKafka(this.spec);
  }

  /** With TLS: the SCRAM credentials of the SASL accounts (idempotent; PLAIN's are in the JAAS line). */
  async bootstrap(): Promise<void> {
    const users = this.spec.tls?.kafka?.users ?? [];
    for (const [u, mechanism] of users.flatMap((u) => (['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const).map((m) => [u, m] as const))) {
      const r = await run('java', [
        '-cp',
        this.classpath,
        'kafka.admin.ConfigCommand',
        '--bootstrap-server',
        `${this.spec.host}:${this.spec.port}`,
        '--alter',
        '--add-config',
        `${mechanism}=[password=${u.password}]`,
        '--entity-type',
        'users',
        '--entity-name',
        u.username,
      ]);
      if (r.code !== 0)
        throw new DevClusterError(
          'DEV_START_FAILED',
          `kafka: adding the ${mechanism} credentials of ${u.username} failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
        );
    }
  }
}

/** The broker's SSL (PEM keystore and truststore) and SASL (PLAIN and SCRAM on SASL_SSL) settings. */
function kafkaTlsProperties(keystore: string, ca: string, users: readonly { username: string; password: string }[]): string[] {
  const jaasString = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const plainUsers = users.map((u) => `user_${u.username}=${jaasString(u.password)}`).join(' ');
  return [
    'ssl.keystore.type=PEM',
    `ssl.keystore.location=${keystore}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${ca}`,
    'ssl.client.auth=none',
    'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
    'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
  ];
}
