import type { Health } from '../health.js';
import type { RejoinStep } from '../rejoin-plan.js';
import type { ServiceSpec } from '../service-spec.js';

/** How the native path installs, initialises, starts and readies one service. */
export interface NativeService {
  readonly spec: ServiceSpec;
  /** The file whose tail explains a failure. */
  readonly logFile: string;
  /** Installs (or finds cached) binaries; returns warnings worth showing. */
  install(): Promise<string[]>;
  /** The exact version the installed binaries report. */
  version(): Promise<string>;
  /** Initialises the data directory on first use; a no-op afterwards. */
  prepare(): Promise<void>;
  /** Starts the process detached and returns its pid. */
  start(): Promise<number>;
  /** Whether the process accepts work (before accounts exist). */
  ready(): Promise<Health>;
  /** One-time set-up after it is ready (accounts, databases; a replica's replication); idempotent. */
  bootstrap(): Promise<void>;
  /** What `dev up` waits for after `bootstrap` (default: the health probe users see). */
  settled?(): Promise<Health>;
  /** A configured primary another node replaced (`spec.rejoin`): fence it and rejoin it as a replica, or say it must be re-provisioned. */
  rejoin?(): Promise<RejoinStep>;
  /** Removes its data directory (the next `prepare` initialises a fresh one). */
  discardData?(): void;
}
