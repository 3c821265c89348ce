/**
 * Child process of `npm run bench:binlog`: reads one binlog range with shardline's BinlogReader
 * (counting the rows and payload bytes of one table, as a consumer would) while sampling its own
 * RSS every 50 ms, and prints one JSON object: rows, bytes, seconds, peak and baseline RSS.
 * Argument: a JSON {@link RssChildArgs}.
 */
import { BinlogReader } from '../src/cdc/binlog/index.js';

export interface RssChildArgs {
  instance: string;
  endpoint: { host: string; port: number; user: string; password: string };
  replicaServerId: number;
  from: { file: string; pos: number };
  to: { file: string; pos: number };
  database: string;
  table: string;
}

export interface RssChildResult {
  rows: number;
  payloadBytes: number;
  seconds: number;
  baselineRssMb: number;
  peakRssMb: number;
  /** The kernel's high-water mark of the process (getrusage ru_maxrss), which no sampling can miss. */
  maxRssMb: number;
  samples: number;
}

const fileSeq = (f: string) => Number(/\.(\d+)$/.exec(f)?.[1] ?? -1);
const MB = 1024 * 1024;

const args = JSON.parse(process.argv[2] ?? '') as RssChildArgs;
const baseline = process.memoryUsage.rss();
let peak = baseline;
let samples = 0;
let lastSample = performance.now();
const sample = () => {
  const rss = process.memoryUsage.rss();
  if (rss > peak) peak = rss;
  samples++;
  lastSample = performance.now();
};
// The timer samples while the reader waits for the socket; the loop below samples while it decodes
// (a timer cannot fire during a long synchronous stretch).
const timer = setInterval(sample, 50);

const t0 = performance.now();
const reader = await BinlogReader.open({
  instance: args.instance,
  endpoint: args.endpoint,
  replicaServerId: args.replicaServerId,
  from: args.from,
  untilNow: true,
});
const endSeq = fileSeq(args.to.file);
let rows = 0;
let payloadBytes = 0;
for await (const ev of reader.events()) {
  if (performance.now() - lastSample >= 50) sample();
  if (ev.kind === 'rows' && ev.table.table === args.table && ev.table.database === args.database) {
    for (const r of ev.rows) {
      rows++;
      for (const k in r.after) {
        const v = r.after[k];
        if (Buffer.isBuffer(v)) payloadBytes += v.length;
      }
    }
  }
  const seq = fileSeq(ev.file);
  if (seq > endSeq || (seq === endSeq && ev.nextPos >= args.to.pos)) break;
}
const seconds = (performance.now() - t0) / 1000;
sample();
clearInterval(timer);
const result: RssChildResult = {
  rows,
  payloadBytes,
  seconds,
  baselineRssMb: baseline / MB,
  peakRssMb: peak / MB,
  maxRssMb: process.resourceUsage().maxRSS / 1024,
  samples,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
