import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { IdleWatcher, KeepAliveSettings, NoFileLimit, ProbeResult, SocketLayer } from './socket-layer.js';

const ended = new WeakSet<Socket>();

function track(socket: Socket): void {
  const mark = () => ended.add(socket);
  socket.once('end', mark);
  socket.once('close', mark);
  socket.once('error', mark);
}

/** RLIMIT_NOFILE from /proc/self/limits (the JS layer cannot change it). */
export function readNoFileLimit(): NoFileLimit {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const [soft, hard] = (line ?? '').replace('Max open files', '').trim().split(/\s+/);
    const toNum = (v: string | undefined) => (v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v));
    return { soft: toNum(soft), hard: toNum(hard), before: toNum(soft), raised: false };
  } catch {
    return { soft: Number.NaN, hard: Number.NaN, before: Number.NaN, raised: false };
  }
}

/**
 * The fallback: keepalive through `setKeepAlive` (Node fixes the interval at 1 s and the count
 * at 10; a delay under 1 s leaves the kernel defaults), no TCP_USER_TIMEOUT, no TCP_INFO, and
 * liveness from the events JavaScript has already seen.
 */
export function createJsSocketLayer(reason: string): SocketLayer {
  const probe = (socket: Socket): ProbeResult => {
    if (socket.destroyed || ended.has(socket)) return { alive: false, reason: 'closed' };
    if (socket.readyState !== 'open') return { alive: false, reason: 'state' };
    return { alive: true, reason: 'ok' };
  };
  return {
    kind: 'js',
    reason,
    tune(socket: Socket, settings: KeepAliveSettings) {
      socket.setNoDelay(true);
      socket.setKeepAlive(true, Math.max(1000, settings.idleS * 1000));
      track(socket);
    },
    tcpInfo: () => null,
    probe,
    alive: (socket) => probe(socket).alive,
    createIdleWatch(): IdleWatcher {
      const watched = new Map<Socket, number>();
      return {
        add: (socket, token) => void watched.set(socket, token),
        remove: (socket) => void watched.delete(socket),
        checkout(socket) {
          watched.delete(socket);
          return probe(socket).alive;
        },
        reapDead() {
          const dead: number[] = [];
          for (const [socket, token] of watched) {
            if (!probe(socket).alive) {
              dead.push(token);
              watched.delete(socket);
            }
          }
          return dead;
        },
        get size() {
          return watched.size;
        },
        close: () => watched.clear(),
      };
    },
    raiseNoFileLimit: readNoFileLimit,
    capabilities: () => ({
      keepAliveTuning: false,
      userTimeout: false,
      tcpInfo: false,
      idleWatch: false,
      probe: false,
      raiseNoFileLimit: false,
    }),
  };
}
