import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { eosManagerWithCachedCoordinator } from '../../src/cdc/kafka/kafkajs-coordinator-cache.js';
import { privateCommonJs } from '../../src/cdc/kafka/private-commonjs.js';

const hostRequire = createRequire(import.meta.url);
const root = path.dirname(hostRequire.resolve('@shardline/kafkajs/package.json'));
const eosFile = path.join(root, 'src/producer/eosManager/index.js');

interface EosManager {
  initProducerId(): Promise<void>;
  beginTransaction(): void;
  addPartitionsToTransaction(topicData: { topic: string; partitions: { partition: number }[] }[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}
type CreateEosManager = (o: Record<string, unknown>) => EosManager;

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** A cluster of fake brokers: counts coordinator lookups and requests, fails on demand. */
function fakeCluster() {
  const calls: string[] = [];
  let lookups = 0;
  let failNext: string | null = null;
  const broker = (id: number) => {
    let connected = true;
    const request = (name: string, result: unknown = {}) => {
      calls.push(`${name}@${id}`);
      if (failNext === name) {
        failNext = null;
        const e = new Error(`${name} failed: This is not the correct coordinator`) as Error & { type: string; retriable: boolean };
        e.type = 'NOT_COORDINATOR';
        e.retriable = false;
        return Promise.reject(e);
      }
      return Promise.resolve(result);
    };
    return {
      id,
      isConnected: () => connected,
      disconnect: () => (connected = false),
      initProducerId: () => request('InitProducerId', { producerId: 7, producerEpoch: 1 }),
      addPartitionsToTxn: () => request('AddPartitionsToTxn'),
      endTxn: () => request('EndTxn'),
    };
  };
  const brokers = [broker(1), broker(2)];
  let coordinator = brokers[0]!;
  return {
    calls,
    brokers,
    lookups: () => lookups,
    failNext: (name: string) => (failNext = name),
    moveCoordinatorTo: (i: number) => (coordinator = brokers[i]!),
    cluster: {
      retry: { retries: 0 },
      refreshMetadataIfNecessary: async () => undefined,
      findGroupCoordinator: async () => {
        lookups++;
        return coordinator;
      },
    },
  };
}

function manager(fake: ReturnType<typeof fakeCluster>): EosManager {
  const load = privateCommonJs(new Map(), new Map([[eosFile, eosManagerWithCachedCoordinator]]));
  const create = load(eosFile) as CreateEosManager;
  return create({ logger: silent, cluster: fake.cluster, transactional: true, transactionalId: 'shardline-test' });
}

async function transaction(eos: EosManager, partition: number) {
  eos.beginTransaction();
  await eos.addPartitionsToTransaction([{ topic: 'users', partitions: [{ partition }] }]);
  await eos.addPartitionsToTransaction([{ topic: 'checkpoints', partitions: [{ partition: 0 }] }]);
  await eos.commit();
}

describe("kafkajs's transaction manager with the coordinator kept (shardline's private copy)", () => {
  it('looks the coordinator up once for many transactions', async () => {
    const fake = fakeCluster();
    const eos = manager(fake);
    await eos.initProducerId();
    for (let i = 0; i < 20; i++) await transaction(eos, i % 4);
    expect(fake.lookups()).toBe(1);
    expect(fake.calls.filter((c) => c === 'EndTxn@1')).toHaveLength(20);
    expect(fake.calls.filter((c) => c === 'AddPartitionsToTxn@1')).toHaveLength(40);
  });

  it('asks again after a request to the coordinator failed (it moved), and then uses the new one', async () => {
    const fake = fakeCluster();
    const eos = manager(fake);
    await eos.initProducerId();
    await transaction(eos, 0);
    fake.moveCoordinatorTo(1);
    fake.failNext('AddPartitionsToTxn');
    eos.beginTransaction();
    await expect(eos.addPartitionsToTransaction([{ topic: 'users', partitions: [{ partition: 1 }] }])).rejects.toThrow(
      /not the correct coordinator/,
    );
    await eos.abort();
    await transaction(eos, 2);
    await transaction(eos, 3);
    expect(fake.lookups()).toBe(2);
    expect(fake.calls.slice(-6)).toEqual([
      'AddPartitionsToTxn@2',
      'AddPartitionsToTxn@2',
      'EndTxn@2',
      'AddPartitionsToTxn@2',
      'AddPartitionsToTxn@2',
      'EndTxn@2',
    ]);
  });

  it('asks again when the coordinator’s connection dropped', async () => {
    const fake = fakeCluster();
    const eos = manager(fake);
    await eos.initProducerId();
    await transaction(eos, 0);
    fake.brokers[0]!.disconnect();
    fake.moveCoordinatorTo(1);
    await transaction(eos, 1);
    expect(fake.lookups()).toBe(2);
    expect(fake.calls.at(-1)).toBe('EndTxn@2');
  });

  it('without the patch kafkajs looks it up before every request (what this saves)', async () => {
    const fake = fakeCluster();
    const create = privateCommonJs(new Map())(eosFile) as CreateEosManager;
    const eos = create({ logger: silent, cluster: fake.cluster, transactional: true, transactionalId: 'shardline-test' });
    await eos.initProducerId();
    for (let i = 0; i < 5; i++) await transaction(eos, i);
    expect(fake.lookups()).toBe(1 + 5 * 3);
  });

  it('refuses a transaction manager whose text changed', () => {
    const source = readFileSync(eosFile, 'utf8');
    expect(() =>
      eosManagerWithCachedCoordinator(source.replace('const findTransactionCoordinator = () => {', 'const findCoordinator = () => {')),
    ).toThrow(/not the transaction manager this patch was written for/);
  });
});
