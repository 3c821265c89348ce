const GTID = /^(\d{1,10})-(\d{1,10})-(\d{1,20})$/;

function entries(text: string): { domain: string; server: string; seq: bigint; text: string }[] {
  return text
    .replace(/\s+/g, '')
    .split(',')
    .filter(Boolean)
    .map((g) => {
      const m = GTID.exec(g);
      return m ? { domain: m[1]!, server: m[2]!, seq: BigInt(m[3]!), text: g } : null;
    })
    .filter((e): e is NonNullable<typeof e> => e !== null);
}

/**
 * Where a MariaDB reader resumes on another server (pure). `position` (one GTID per domain) was
 * read on the old primary; a GTID of it that the new server's binlog does not hold — its
 * `@@gtid_binlog_state` has an older GTID of that domain and originating server — was committed on
 * the old primary and never replicated (an unplanned failover). The server refuses such a
 * position, so that domain resumes after the newest GTID of the same origin the server does hold:
 * everything the server has beyond it is new to the reader. `missing` names what the reader had
 * read that the new primary will never have (`domain-server-first…last`).
 */
export function mariadbResumePosition(position: string, binlogState: string): { position: string; missing: string[] } {
  const held = new Map(entries(binlogState).map((e) => [`${e.domain}-${e.server}`, e]));
  const missing: string[] = [];
  const out = entries(position).map((e) => {
    const have = held.get(`${e.domain}-${e.server}`);
    if (!have || have.seq >= e.seq) return e.text;
    missing.push(`${e.domain}-${e.server}-${have.seq + 1n}…${e.seq}`);
    return have.text;
  });
  return { position: out.join(','), missing };
}
