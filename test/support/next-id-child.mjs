// A process of its own taking IDs from a global sequence (router.nextId). argv: the dist folder,
// the sequence name, how many IDs, how many callers at once (each awaiting its last ID before the
// next). Prints every ID, one per line; exits 3 if a caller's IDs were not increasing.
import path from 'node:path';

const [dist, name, countText, concurrencyText] = process.argv.slice(2);
const { createRouter, loadClusterConfig } = await import(path.join(dist, 'index.js'));
const { bundledClusterConfig } = await import(path.join(dist, 'config', 'index.js'));
const router = await createRouter(loadClusterConfig(process.env['SHARDLINE_CONFIG'] || bundledClusterConfig));
const count = Number(countText);
let left = count;
const callers = await Promise.all(
  Array.from({ length: Number(concurrencyText) }, async () => {
    const mine = [];
    while (left-- > 0) mine.push(await router.nextId(name));
    return mine;
  }),
);
await router.close();
const ids = callers.flat();
let ok = ids.length === count;
for (const mine of callers) for (let i = 1; i < mine.length; i++) if (mine[i] <= mine[i - 1]) ok = false;
process.stdout.write(`${ids.join('\n')}\n`);
process.exitCode = ok ? 0 : 3;
