import { GtidError, RoutingError } from '../errors/index.js';
import { MariadbGtidState, MysqlGtidSet } from './gtid-set.js';

/** What a reader of one instance must have applied: a MySQL GTID set or a MariaDB GTID position. */
export type AppliedState = MysqlGtidSet | MariadbGtidState;

const VERSION = 'w1';
/** Intervals kept per MySQL source before a session's token is coarsened to one (see `MysqlGtidSet.coarsen`). */
const MAX_INTERVALS = 8;
const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** Parses a GTID text as the flavour its syntax says (MySQL `uuid:n…`, MariaDB `d-s-n,…`). @throws {GtidError} */
export function parseApplied(text: string): AppliedState {
  return text.includes(':') ? MysqlGtidSet.parse(text) : MariadbGtidState.parse(text);
}

/** Whether `have` (a replica's executed GTIDs) includes everything of `need`; false across flavours. */
export function applied(have: AppliedState, need: AppliedState): boolean {
  if (have instanceof MysqlGtidSet) return need instanceof MysqlGtidSet && have.contains(need);
  return need instanceof MariadbGtidState && have.covers(need);
}

/**
 * Read-your-writes tokens: per instance, the GTIDs of writes that a read must see. A token is
 * a short string (`w1~shard-0=3e11fa47-…:23~shard-2=0-3-120`) that passes through an HTTP header
 * to another process; tokens merge (a session keeps one for all its writes). Pure.
 */
export class WriteTokens {
  private readonly byInstance = new Map<string, AppliedState>();

  /** Parses a token string (or several: each is merged). @throws {RoutingError} TOKEN_INVALID */
  static parse(tokens: string | readonly string[]): WriteTokens {
    const out = new WriteTokens();
    for (const token of typeof tokens === 'string' ? [tokens] : tokens) out.mergeText(token);
    return out;
  }

  /** Records that `gtid` (as the server reported it for a commit) was written on `instance`. */
  add(instance: string, gtid: string): void {
    const state = parseApplied(gtid);
    const mine = this.byInstance.get(instance);
    if (!mine) this.byInstance.set(instance, state);
    else if (mine instanceof MysqlGtidSet && state instanceof MysqlGtidSet) {
      mine.union(state);
      mine.coarsen(MAX_INTERVALS);
    } else if (mine instanceof MariadbGtidState && state instanceof MariadbGtidState) mine.merge(state);
    else this.byInstance.set(instance, state);
  }

  /** Adds every instance's GTIDs of `other`. */
  merge(other: WriteTokens): void {
    for (const [instance, state] of other.byInstance) this.add(instance, state.toString());
  }

  /** What a reader of `instance` must have applied, if anything. */
  get(instance: string): AppliedState | undefined {
    return this.byInstance.get(instance);
  }

  get empty(): boolean {
    return this.byInstance.size === 0;
  }

  /** The instances the token names, sorted. */
  instances(): string[] {
    return [...this.byInstance.keys()].sort();
  }

  /** The token string; `''` when no write is known. */
  toString(): string {
    if (this.byInstance.size === 0) return '';
    const parts = [...this.byInstance.keys()].sort().map((i) => `${i}=${this.byInstance.get(i)!.toString()}`);
    return `${VERSION}~${parts.join('~')}`;
  }

  private mergeText(token: string): void {
    if (token === '') return;
    const invalid = (why: string, cause?: unknown) =>
      new RoutingError('TOKEN_INVALID', `not a write token (${why})`, { ...(cause ? { cause } : {}), details: { length: token.length } });
    if (token.length > 64 * 1024) throw invalid('longer than 64 KiB');
    const [version, ...parts] = token.split('~');
    if (version !== VERSION) throw invalid(`it must start with "${VERSION}~"`);
    for (const part of parts) {
      const eq = part.indexOf('=');
      const instance = part.slice(0, eq);
      if (eq < 0 || !NAME.test(instance)) throw invalid('an entry is not instance=gtids');
      try {
        this.add(instance, part.slice(eq + 1));
      } catch (err) {
        if (err instanceof GtidError) throw invalid(`instance ${instance}: ${err.message}`, err);
        throw err;
      }
    }
  }
}
