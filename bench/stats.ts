import os from 'node:os';
import { hostCpu } from './e2e-probe.js';

// Small statistics the benchmarks share.

/** `x` rounded to `digits` decimals. */
export const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

/** The median (mean of the middle two for an even count; NaN for none). */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Rounded min and max. */
export const spread = (xs: number[]): { min: number; max: number } => ({
  min: Math.round(Math.min(...xs)),
  max: Math.round(Math.max(...xs)),
});

/** Starts a span; the returned function gives the host's CPU busy % and 1-minute load average over it. */
export const hostSpan = () => {
  const h0 = hostCpu();
  return (): { host_busy_pct: number; loadavg_1m: number } => {
    const h1 = hostCpu();
    return {
      host_busy_pct: round(((h1.busy - h0.busy) / Math.max(1, h1.total - h0.total)) * 100),
      loadavg_1m: round(os.loadavg()[0] ?? 0, 2),
    };
  };
};

/** One run of one side of a side-by-side benchmark. */
export interface SideRun {
  rows: number;
  seconds: number;
  rows_per_s: number;
  cpu_us_per_row: number;
  host_busy_pct: number;
  loadavg_1m: number;
}
