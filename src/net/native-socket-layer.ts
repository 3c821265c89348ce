import type { Socket } from 'node:net';
import type { IdleWatcher, KeepAliveSettings, NoFileLimit, ProbeResult, SocketLayer, TcpInfoSnapshot } from './socket-layer.js';
import { socketFd } from './socket-layer.js';

/** Largest TCP_USER_TIMEOUT the kernel takes (an int of milliseconds, about 24.8 days). */
const MAX_USER_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The addon's exports (native/src/addon.cc). Every function checks its arguments (count, type,
 * integer, range: an fd is 0..2^31-1, a token 0..2^32-1) and throws a TypeError or RangeError.
 */
export interface NativeBinding {
  setKeepAlive(fd: number, idleS: number, intervalS: number, count: number): void;
  setUserTimeout(fd: number, ms: number): void;
  tcpInfo(fd: number): TcpInfoSnapshot | null;
  probe(fd: number): ProbeResult & { state: string };
  alive(fd: number): boolean;
  raiseNoFileLimit(): NoFileLimit & { error?: string };
  capabilities(): Record<string, boolean>;
  IdleWatch: new () => {
    add(fd: number, token: number): void;
    remove(fd: number): boolean;
    checkout(fd: number): boolean;
    reapDead(): number[];
    close(): void;
    readonly size: number;
  };
}

/** The N-API socket layer: per-socket keepalive tuning, TCP_USER_TIMEOUT, TCP_INFO, epoll idle watch. */
export function createNativeSocketLayer(binding: NativeBinding, reason: string): SocketLayer {
  return {
    kind: 'native',
    reason,
    tune(socket: Socket, settings: KeepAliveSettings) {
      socket.setNoDelay(true);
      const fd = socketFd(socket);
      if (fd < 0) return;
      binding.setKeepAlive(fd, settings.idleS, settings.intervalS, settings.count);
      binding.setUserTimeout(fd, Math.min(settings.userTimeoutMs, MAX_USER_TIMEOUT_MS));
    },
    tcpInfo(socket) {
      const fd = socketFd(socket);
      return fd < 0 ? null : binding.tcpInfo(fd);
    },
    probe(socket) {
      if (socket.destroyed) return { alive: false, reason: 'closed' };
      const fd = socketFd(socket);
      if (fd < 0) return { alive: false, reason: 'closed' };
      const r = binding.probe(fd);
      return { alive: r.alive, reason: r.reason };
    },
    alive(socket) {
      if (socket.destroyed) return false;
      const fd = socketFd(socket);
      return fd >= 0 && binding.alive(fd);
    },
    createIdleWatch(): IdleWatcher {
      const watch = new binding.IdleWatch();
      // epoll finds a dead peer before JavaScript does; once libuv has closed the fd the epoll
      // registration is gone with it, so a socket that closed while watched is reported from
      // its 'close' event (one listener per socket for its lifetime, not per borrow).
      const tokens = new Map<Socket, number>();
      const sockets = new Map<number, Socket>();
      const hooked = new WeakSet<Socket>();
      let closed: number[] = [];
      const forget = (socket: Socket): boolean => {
        const token = tokens.get(socket);
        if (token === undefined) return false;
        tokens.delete(socket);
        if (sockets.get(token) === socket) sockets.delete(token);
        return true;
      };
      return {
        add(socket, token) {
          if (tokens.get(socket) === token) return;
          const fd = socketFd(socket);
          if (fd < 0 || socket.destroyed) {
            closed.push(token);
            return;
          }
          watch.add(fd, token);
          tokens.set(socket, token);
          sockets.set(token, socket);
          if (!hooked.has(socket)) {
            hooked.add(socket);
            socket.once('close', () => {
              const t = tokens.get(socket);
              if (t === undefined) return;
              forget(socket);
              closed.push(t);
            });
          }
        },
        remove(socket) {
          if (!forget(socket)) return;
          const fd = socketFd(socket);
          if (fd >= 0) watch.remove(fd);
        },
        checkout(socket) {
          const watched = forget(socket);
          const fd = socketFd(socket);
          if (fd < 0 || socket.destroyed) return false;
          return watched ? watch.checkout(fd) : binding.alive(fd);
        },
        reapDead() {
          // The addon reports each dead registration once and drops it; forget the socket too so
          // its later 'close' does not report it a second time.
          const dead = watch.reapDead();
          for (const t of dead) {
            const socket = sockets.get(t);
            if (socket) forget(socket);
          }
          if (closed.length > 0) {
            const seen = new Set(dead);
            for (const t of closed) if (!seen.has(t)) dead.push(t);
            closed = [];
          }
          return dead;
        },
        get size() {
          return tokens.size;
        },
        close() {
          tokens.clear();
          sockets.clear();
          closed = [];
          watch.close();
        },
      };
    },
    raiseNoFileLimit: () => binding.raiseNoFileLimit(),
    capabilities: () => binding.capabilities(),
  };
}
