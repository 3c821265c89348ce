import type { Socket } from 'node:net';

/** Keepalive and user-timeout settings applied to every pooled socket. */
export interface KeepAliveSettings {
  /** Seconds of idleness before the first probe. */
  idleS: number;
  /** Seconds between probes. */
  intervalS: number;
  /** Unanswered probes before the kernel drops the connection. */
  count: number;
  /** TCP_USER_TIMEOUT: how long sent data may stay unacknowledged. */
  userTimeoutMs: number;
}

/** A TCP_INFO snapshot. */
export interface TcpInfoSnapshot {
  state: string;
  rttUs: number;
  rttVarUs: number;
  rtoUs: number;
  retransmits: number;
  totalRetransmits: number;
  unacked: number;
  lost: number;
  probes: number;
  backoff: number;
  lastDataReceivedMs: number;
  lastDataSentMs: number;
  lastAckReceivedMs: number;
  sendCongestionWindow: number;
  pathMtu: number;
}

/** The answer of a borrow-time check. */
export interface ProbeResult {
  alive: boolean;
  /** `ok`, `peer-closed`, `hangup`, `error`, `pending-data`, `state`, `bad-fd`, `closed` */
  reason: string;
}

/** Idle connections watched for a peer that closed or reset, without a round trip. */
export interface IdleWatcher {
  /** Watches an idle socket (nothing when it is already watched under this token). */
  add(socket: Socket, token: number): void;
  remove(socket: Socket): void;
  /** The borrow check: leaves the watch and answers whether the connection is alive (no round trip). */
  checkout(socket: Socket): boolean;
  /** Tokens of watched connections found dead since the last call. */
  reapDead(): number[];
  readonly size: number;
  close(): void;
}

/** RLIMIT_NOFILE as read (and possibly raised). */
export interface NoFileLimit {
  soft: number;
  hard: number;
  /** The soft limit before `raiseNoFileLimit()`. */
  before: number;
  raised: boolean;
}

/**
 * What the pools need from the operating system. Two implementations: the N-API addon
 * (native/) and a pure-JS fallback with what Node exposes.
 */
export interface SocketLayer {
  readonly kind: 'native' | 'js';
  /** Why this layer is active. */
  readonly reason: string;
  /** TCP_NODELAY, keepalive idle/interval/count and TCP_USER_TIMEOUT on a connected socket. */
  tune(socket: Socket, settings: KeepAliveSettings): void;
  tcpInfo(socket: Socket): TcpInfoSnapshot | null;
  probe(socket: Socket): ProbeResult;
  /** The borrow check's fast path: `probe(socket).alive`. */
  alive(socket: Socket): boolean;
  createIdleWatch(): IdleWatcher;
  /** Lifts the soft RLIMIT_NOFILE to the hard limit where the layer can. */
  raiseNoFileLimit(): NoFileLimit;
  capabilities(): Record<string, boolean>;
}

/** The fd of a connected socket (undocumented `_handle.fd`); read per call, never cached. */
export function socketFd(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: number } | null })._handle;
  return typeof handle?.fd === 'number' ? handle.fd : -1;
}
