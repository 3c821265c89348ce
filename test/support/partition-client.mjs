// Runs inside the client network namespace: one tuned connection to the partitioned server.
// argv: host port layer(native|js) mode(inflight|idle). Prints JSON lines: ready, then failed/reaped.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const net = await import(path.join(root, 'dist', 'net', 'index.js'));
const [host, port, layerKind, mode] = process.argv.slice(2);
const layer =
  layerKind === 'js'
    ? net.createJsSocketLayer('fallback measured')
    : net.loadSocketLayerFrom(path.join(root, 'native/build/Release/shardline_socket.node')).layer;
const keepAlive = { idleS: 8, intervalS: 2, count: 3, userTimeoutMs: 14000 };
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
let conn;
for (let attempt = 0; ; attempt++) {
  try {
    conn = await net.openDbConnection(
      { name: 'partitioned', host, port: Number(port), user: 'shardline', password: 'shardline', connectTimeoutMs: 5000 },
      { layer, keepAlive },
    );
    break;
  } catch (err) {
    if (attempt >= 50) throw err;
    await new Promise((r) => setTimeout(r, 200));
  }
}
if (mode === 'inflight') {
  const q = conn.query('SELECT SLEEP(600)', []);
  say({ event: 'ready', layer: layer.kind });
  try {
    await q;
    say({ event: 'completed' });
  } catch (err) {
    say({ event: 'failed', code: err.code ?? null, message: err.message });
  }
  process.exit(0);
} else {
  const watch = layer.createIdleWatch();
  watch.add(conn.socket, 1);
  say({ event: 'ready', layer: layer.kind });
  const timer = setInterval(() => {
    const dead = watch.reapDead();
    if (dead.includes(1)) {
      say({ event: 'reaped' });
      clearInterval(timer);
      process.exit(0);
    }
  }, 50);
}
setTimeout(() => process.exit(0), 60_000).unref();
