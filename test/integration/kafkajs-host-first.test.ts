import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/config/index.js';
import { testConfig } from '../support/cluster.js';

// A host application that loaded its own kafkajs before shardline: shardline's read_committed
// reads must still drop every record of aborted transactions, and the host's kafkajs must stay
// untouched (it still shows kafkajs 2.2.4's own filter, which lets one through here: the proof
// that the scenario is the one the correction is for). A separate Node process, so that module
// loading is Node's own rather than Jest's.

const run = promisify(execFile);
const fixture = path.join(packageRoot, 'test/fixtures/kafka/host-loads-kafkajs-first.mjs');

it('read_committed through shardline drops aborted transactions when the host loaded kafkajs first, and the host kafkajs is not changed', async () => {
  const topic = `shardline-test-host-first-${process.pid}-${Date.now()}`;
  const { stdout } = await run(process.execPath, [fixture, packageRoot, testConfig().kafka.brokers.join(','), topic], {
    cwd: packageRoot,
    timeout: 90_000,
  });
  const seen = JSON.parse(stdout) as { shardline: string[]; host: string[]; hostFilterUntouched: boolean; hostKafkajsShared: boolean };
  expect(seen.shardline).toEqual(['committed-c1', 'committed-c2']);
  expect(seen.hostFilterUntouched).toBe(true);
  expect(seen.hostKafkajsShared).toBe(false);
  // kafkajs 2.2.4's filter (the host's, unchanged) enters only the first listed aborted transaction.
  expect(seen.host).toEqual(['aborted-a1', 'committed-c1', 'committed-c2']);
});
