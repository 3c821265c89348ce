import { GtidError } from '../errors/index.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TAG = /^[a-z_][a-z0-9_]{0,31}$/i;
/** MySQL's largest transaction number: 2^63 − 1. */
const MAX_GNO = (1n << 63n) - 1n;

function bad(what: string, text: string, options: { cause?: unknown } = {}): GtidError {
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return new GtidError(`not a ${what}: "${shown}"`, { ...options, details: { what } });
}

/** Splits one MySQL GTID (`uuid:23`, `uuid:tag:23`) into its source and number. @throws {GtidError} */
function splitGtid(gtid: string): { source: string; gno: bigint } {
  const fields = gtid.trim().toLowerCase().split(':');
  const gno = fields.pop() ?? '';
  const [uuid, tag, ...rest] = fields;
  if (uuid === undefined || !UUID.test(uuid) || rest.length > 0 || (tag !== undefined && !TAG.test(tag)) || !/^\d{1,19}$/.test(gno))
    throw bad('MySQL GTID (uuid:number or uuid:tag:number)', gtid);
  const n = BigInt(gno);
  if (n < 1n || n > MAX_GNO) throw bad('MySQL GTID (transaction number 1 … 2^63-1)', gtid);
  return { source: tag === undefined ? uuid : `${uuid}:${tag}`, gno: n };
}

/**
 * A MySQL GTID set (`uuid:1-5:7,uuid:tag:1-3`) that grows one transaction at a time. Pure.
 * Intervals are kept merged and sorted; the text form is the server's.
 */
export class MysqlGtidSet {
  private readonly sources = new Map<string, Array<[bigint, bigint]>>();

  /** Parses the server's text form. @throws {GtidError} `GTID_INVALID` on malformed text */
  static parse(text: string): MysqlGtidSet {
    const set = new MysqlGtidSet();
    for (const part of text.replace(/\s+/g, '').split(',').filter(Boolean)) {
      const fields = part.split(':');
      const uuid = fields.shift()!.toLowerCase();
      if (!UUID.test(uuid)) throw bad('GTID source uuid', uuid);
      if (fields.length === 0) throw bad('GTID set element (uuid:interval)', part);
      let tag = '';
      let intervals = 0;
      for (const f of fields) {
        const m = /^(\d{1,19})(?:-(\d{1,19}))?$/.exec(f);
        if (!m) {
          if (!TAG.test(f)) throw bad('GTID interval or tag', f);
          if (intervals === 0 && tag !== '') throw bad('GTID set element (a tag needs intervals)', part);
          tag = f.toLowerCase();
          intervals = 0;
          continue;
        }
        intervals++;
        const a = BigInt(m[1]!);
        const b = BigInt(m[2] ?? m[1]!);
        if (a < 1n || b < a || b > MAX_GNO) throw bad('GTID interval', f);
        set.addRange(tag ? `${uuid}:${tag}` : uuid, a, b);
      }
      if (intervals === 0) throw bad('GTID set element (a tag needs intervals)', part);
    }
    return set;
  }

  /** Adds one transaction, e.g. `add('3e11fa47-…:23')` or `add('3e11fa47-…:tag:23')`. */
  add(gtid: string): void {
    const { source, gno } = splitGtid(gtid);
    this.addRange(source, gno, gno);
  }

  /** Whether the set holds the transaction. */
  has(gtid: string): boolean {
    const { source, gno } = splitGtid(gtid);
    return (this.sources.get(source) ?? []).some(([a, b]) => a <= gno && gno <= b);
  }

  private addRange(source: string, a: bigint, b: bigint): void {
    const list = this.sources.get(source) ?? [];
    list.push([a, b]);
    list.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    const merged: Array<[bigint, bigint]> = [];
    for (const iv of list) {
      const last = merged[merged.length - 1];
      if (last && iv[0] <= last[1] + 1n) last[1] = iv[1] > last[1] ? iv[1] : last[1];
      else merged.push([iv[0], iv[1]]);
    }
    this.sources.set(source, merged);
  }

  /** Adds every transaction of `other`. */
  union(other: MysqlGtidSet): void {
    for (const [source, list] of other.sources) for (const [a, b] of list) this.addRange(source, a, b);
  }

  clone(): MysqlGtidSet {
    return MysqlGtidSet.parse(this.toString());
  }

  /** Whether every transaction of `other` is in this set (a replica that executed this has applied `other`). */
  contains(other: MysqlGtidSet): boolean {
    for (const [source, list] of other.sources) {
      const mine = this.sources.get(source);
      if (!mine) return false;
      for (const [a, b] of list) if (!mine.some(([x, y]) => x <= a && b <= y)) return false;
    }
    return true;
  }

  /** The transactions of this set that `other` lacks (a new set; e.g. a node's errant transactions: its set minus its primary's). */
  minus(other: MysqlGtidSet): MysqlGtidSet {
    const out = new MysqlGtidSet();
    for (const [source, list] of this.sources) {
      const holes = other.sources.get(source) ?? [];
      for (const [a, b] of list) {
        let from = a;
        for (const [x, y] of holes) {
          if (y < from || x > b) continue;
          if (x > from) out.addRange(source, from, x - 1n);
          from = y + 1n;
          if (from > b) break;
        }
        if (from <= b) out.addRange(source, from, b);
      }
    }
    return out;
  }

  get empty(): boolean {
    return this.sources.size === 0;
  }

  /**
   * Replaces the intervals of every source that has more than `max` by one interval from its
   * first to its last transaction (a superset: what a read-your-writes token may wait for, kept
   * short when a session's writes interleave with other sessions').
   */
  coarsen(max: number): void {
    for (const [source, list] of this.sources) if (list.length > max) this.sources.set(source, [[list[0]![0], list[list.length - 1]![1]]]);
  }

  /** The server's text form, sources sorted (uuid, then tag). */
  toString(): string {
    const byUuid = new Map<string, string[]>();
    for (const source of [...this.sources.keys()].sort()) {
      const [uuid, tag] = source.split(':') as [string, string | undefined];
      const ranges = this.sources.get(source)!.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
      const parts = byUuid.get(uuid) ?? [];
      parts.push(tag ? `${tag}:${ranges.join(':')}` : ranges.join(':'));
      byUuid.set(uuid, parts);
    }
    return [...byUuid].map(([uuid, parts]) => `${uuid}:${parts.join(':')}`).join(',');
  }
}

/** A MariaDB GTID position: the last GTID per replication domain (`0-1-42,1-2-7`). Pure. */
export class MariadbGtidState {
  private readonly domains = new Map<number, string>();

  /** @throws {GtidError} `GTID_INVALID` on malformed text */
  static parse(text: string): MariadbGtidState {
    const state = new MariadbGtidState();
    for (const g of text.replace(/\s+/g, '').split(',').filter(Boolean)) state.add(g);
    return state;
  }

  /** Records `domain-server-seq` as its domain's position. */
  add(gtid: string): void {
    const m = /^(\d{1,10})-(\d{1,10})-(\d{1,20})$/.exec(gtid);
    if (!m || Number(m[1]) > 0xffffffff || Number(m[2]) > 0xffffffff || BigInt(m[3]!) > 0xffffffffffffffffn)
      throw bad('MariaDB GTID (domain-server-seq)', gtid);
    this.domains.set(Number(m[1]), gtid);
  }

  /** Takes the positions of domains this state does not know yet (a file's GTID_LIST is older than what was read since). */
  fill(other: MariadbGtidState): void {
    for (const [domain, gtid] of other.domains) if (!this.domains.has(domain)) this.domains.set(domain, gtid);
  }

  clone(): MariadbGtidState {
    return MariadbGtidState.parse(this.toString());
  }

  /** Whether every domain of `other` is at or past its position here (a replica at this position has applied `other`). */
  covers(other: MariadbGtidState): boolean {
    for (const [domain, gtid] of other.domains) {
      const mine = this.domains.get(domain);
      if (mine === undefined || seqOf(mine) < seqOf(gtid)) return false;
    }
    return true;
  }

  /** Takes, per domain, the later of the two positions. */
  merge(other: MariadbGtidState): void {
    for (const [domain, gtid] of other.domains) {
      const mine = this.domains.get(domain);
      if (mine === undefined || seqOf(mine) < seqOf(gtid)) this.domains.set(domain, gtid);
    }
  }

  get empty(): boolean {
    return this.domains.size === 0;
  }

  toString(): string {
    return [...this.domains.keys()]
      .sort((a, b) => a - b)
      .map((d) => this.domains.get(d)!)
      .join(',');
  }
}

function seqOf(gtid: string): bigint {
  return BigInt(gtid.slice(gtid.lastIndexOf('-') + 1));
}
