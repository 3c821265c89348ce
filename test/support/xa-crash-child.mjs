// An atomic (XA) multi-shard write in its own process, for test/integration/router-xa.test.ts:
// it stops — forever — after every branch is prepared (`prepared`) or after the commit decision
// is recorded (`decided`), prints { gtrid } and waits to be killed with SIGKILL.
import { createRouter } from '../../dist/index.js';

const [configPath, stage, uidsArg] = process.argv.slice(2);
const uids = JSON.parse(uidsArg).map((u) => BigInt(u));
const router = await createRouter(configPath);
const stop = async (gtrid) => {
  process.stdout.write(`${JSON.stringify({ gtrid })}\n`);
  await new Promise(() => undefined);
};
// The router's MultiShardWriter test seam (not public API).
router.writer.hooks = stage === 'prepared' ? { afterPrepare: stop } : { afterDecision: stop };
await router.query(
  `INSERT INTO items (uid, v) VALUES ${uids.map(() => '(?, ?)').join(', ')}`,
  uids.flatMap((u) => [u, `crash-${stage}`]),
  { atomic: true },
);
process.stdout.write('{"finished":true}\n');
