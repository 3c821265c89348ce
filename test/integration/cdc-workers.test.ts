import { createRouter, loadClusterConfig, type Router } from '../../src/index.js';
import { ALL_SECTIONS, requireSections } from '../../src/config/index.js';
import { KafkajsEventLog, type ChangeEvent } from '../../src/cdc/index.js';
import { WorkerProcess, writeCdcTestConfig } from '../support/cdc.js';
import { shardline } from '../support/cluster.js';

const NAME = `it_workers_${process.pid}`;
const configPath = writeCdcTestConfig(NAME);
const config = requireSections(loadClusterConfig(configPath), ALL_SECTIONS, 'the CDC tests');
const all = config.instances.map((i) => i.name).sort();
const a = new WorkerProcess(configPath, 19466, ['reader']);
const b = new WorkerProcess(configPath, 19467, ['reader']);
const BASE = 8_400_000_000n + BigInt(process.pid % 1000) * 1_000_000n;
let router: Router;

async function reading(w: WorkerProcess): Promise<string[]> {
  try {
    const body = (await (await fetch(`http://127.0.0.1:${w.httpPort}/healthz`)).json()) as { reading: string[] };
    return body.reading;
  } catch {
    return [];
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return Date.now() - started;
}

beforeAll(async () => {
  shardline('migrate');
  router = await createRouter(config);
});

afterAll(async () => {
  await Promise.all([a.stop(), b.stop()]);
  await router?.close();
});

it('two workers split the instances through Kafka group membership; the survivor takes over a killed one', async () => {
  a.start();
  await a.waitReading(all);
  let uid = BASE;
  let writing = true;
  const writer = (async () => {
    while (writing) {
      const batch = Array.from({ length: 16 }, () => uid++);
      await router.query(`INSERT INTO users (uid, name, balance) VALUES ${batch.map(() => "(?, 'w', '1.00')").join(', ')}`, batch);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  b.start();
  await until(
    'the group splits the instances',
    async () => {
      const [ra, rb] = [await reading(a), await reading(b)];
      return ra.length > 0 && rb.length > 0 && ra.every((i) => !rb.includes(i)) && [...ra, ...rb].sort().join() === all.join();
    },
    60_000,
  );
  const movedBack = [...(await reading(b))];
  b.kill9();
  const takeover = await until('the survivor reads every instance', async () => (await reading(a)).sort().join() === all.join(), 60_000);
  expect(takeover).toBeLessThan(30_000);
  expect(movedBack.length).toBeGreaterThan(0);
  await new Promise((r) => setTimeout(r, 1000));
  writing = false;
  await writer;

  const log = new KafkajsEventLog({ brokers: config.kafka.brokers, clientId: 'workers-test' });
  try {
    const deadline = Date.now() + 60_000;
    let uids = new Set<string>();
    const seen = new Map<string, number>();
    do {
      seen.clear();
      uids = new Set();
      for (const m of await log.readToEnd(`${NAME}.users`)) {
        const e = JSON.parse(m.value!.toString('utf8')) as ChangeEvent;
        const at = `${e.source.instance}:${e.source.file}:${e.source.pos}:${e.source.row}`;
        seen.set(at, (seen.get(at) ?? 0) + 1);
        const u = e.after?.['uid'];
        if (typeof u === 'string' && BigInt(u) >= BASE && BigInt(u) < uid) uids.add(u);
      }
      if (uids.size < Number(uid - BASE)) await new Promise((r) => setTimeout(r, 500));
    } while (uids.size < Number(uid - BASE) && Date.now() < deadline);
    expect(uids.size).toBe(Number(uid - BASE));
    expect([...seen].filter(([, n]) => n > 1)).toEqual([]);
  } finally {
    await log.close();
  }
}, 240_000);
