import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

/**
 * A TCP peer in another process (so killing it makes the kernel close the connection while our
 * event loop may be busy). Returns our connected socket and the child.
 */
export async function connectToPeerProcess(): Promise<{ socket: net.Socket; child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      "const s=require('net').createServer(c=>c.on('error',()=>{})).listen(0,'127.0.0.1',()=>process.stdout.write(String(s.address().port)+'\\n'));setInterval(()=>{},1e6)",
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  return { socket: await connectTo(port), child, port };
}

/** Another connection to a peer that is already running. */
export async function connectTo(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise((r) => socket.once('connect', r));
  return socket;
}

/** Blocks the event loop (so libuv cannot deliver socket events). */
export function busyWait(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    /* spin */
  }
}
