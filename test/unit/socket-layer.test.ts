import type { ChildProcess } from 'node:child_process';
import type net from 'node:net';
import { createJsSocketLayer, loadSocketLayerFrom } from '../../src/net/index.js';
import { busyWait, connectTo, connectToPeerProcess } from '../support/peer-process.js';

const { layer: native, fallback } = loadSocketLayerFrom(
  new URL('../../native/build/Release/shardline_socket.node', import.meta.url).pathname,
);
const settings = { idleS: 8, intervalS: 2, count: 3, userTimeoutMs: 14000 };
const children: ChildProcess[] = [];
const sockets: net.Socket[] = [];

/** Resolves on 'close' whatever error the socket reports first (a killed peer may reset it). */
function closeOf(socket: net.Socket): Promise<void> {
  socket.on('error', () => {});
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

async function peer() {
  const p = await connectToPeerProcess();
  children.push(p.child);
  sockets.push(p.socket);
  return p;
}

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const s of sockets.splice(0)) s.destroy();
});

describe('native socket layer', () => {
  it('is built and loaded (npm ci builds it)', () => {
    expect(fallback).toBe(false);
    expect(native.kind).toBe('native');
    expect(native.capabilities()).toMatchObject({ keepAliveTuning: true, userTimeout: true, tcpInfo: true, idleWatch: true });
  });

  it('tunes a socket and reads TCP_INFO', async () => {
    const { socket } = await peer();
    native.tune(socket, settings);
    const info = native.tcpInfo(socket)!;
    expect(info.state).toBe('established');
    expect(info.rttUs).toBeGreaterThanOrEqual(0);
    expect(native.probe(socket)).toEqual({ alive: true, reason: 'ok' });
  });

  it('finds a peer that went away before JavaScript hears of it, without a round trip', async () => {
    const { socket, child } = await peer();
    native.tune(socket, settings);
    child.kill('SIGKILL');
    busyWait(200);
    expect(socket.readyState).toBe('open');
    const probe = native.probe(socket);
    expect(probe.alive).toBe(false);
    expect(['peer-closed', 'hangup', 'error']).toContain(probe.reason);
  });

  it('reaps idle connections whose peer closed, in an epoll set of its own', async () => {
    const watch = native.createIdleWatch();
    const a = await peer();
    const b = await peer();
    watch.add(a.socket, 101);
    watch.add(b.socket, 102);
    expect(watch.size).toBe(2);
    expect(watch.reapDead()).toEqual([]);
    b.child.kill('SIGKILL');
    busyWait(200);
    expect(watch.reapDead()).toEqual([102]);
    watch.remove(b.socket);
    watch.remove(a.socket);
    expect(watch.size).toBe(0);
    watch.close();
  });

  it('never reports a reused fd under its predecessor token', async () => {
    const watch = native.createIdleWatch();
    const first = await peer();
    const fd = (first.socket as unknown as { _handle: { fd: number } })._handle.fd;
    watch.add(first.socket, 1);
    const closed = closeOf(first.socket);
    first.socket.destroy();
    await closed;
    expect(watch.reapDead()).toEqual([1]);
    const second = await connectTo(first.port);
    sockets.push(second);
    expect((second as unknown as { _handle: { fd: number } })._handle.fd).toBe(fd);
    first.child.kill('SIGKILL');
    busyWait(200);
    expect(watch.reapDead()).toEqual([]);
    expect(native.probe(second).alive).toBe(false);
    watch.add(second, 2);
    expect(watch.reapDead()).toEqual([2]);
    watch.close();
  });

  it('raises the soft RLIMIT_NOFILE to the hard limit and reports both', () => {
    const limit = native.raiseNoFileLimit();
    expect(limit.soft).toBe(limit.hard);
    expect(limit.before).toBeLessThanOrEqual(limit.soft);
  });
});

describe('JS fallback', () => {
  it('is chosen with a reason when the addon cannot load', () => {
    const { layer, fallback: fell } = loadSocketLayerFrom('/nonexistent/shardline_socket.node');
    expect(fell).toBe(true);
    expect(layer.kind).toBe('js');
    expect(layer.reason).toBe('/nonexistent/shardline_socket.node does not exist');
    expect(layer.tcpInfo({} as net.Socket)).toBeNull();
  });

  it('only knows a peer is gone once JavaScript has processed the close', async () => {
    const js = createJsSocketLayer('test');
    const { socket, child } = await peer();
    js.tune(socket, settings);
    child.kill('SIGKILL');
    busyWait(200);
    expect(js.probe(socket).alive).toBe(true);
    await closeOf(socket);
    expect(js.probe(socket)).toEqual({ alive: false, reason: 'closed' });
  });
});
