/**
 * Paces an instance's chunk reads to `maxRowsPerSecond` (pure: time comes in as `now`, ms). After
 * a chunk of n rows, the next read may start n rows' worth of time after that one started (an
 * empty table costs nothing). Time the reads fell behind (a slow Kafka commit, a pause) is not
 * made up later in a burst — a burst of reads is exactly what would hurt the source's other
 * clients — so the limit holds over every window, not only on average.
 */
export class ChunkPacer {
  private nextAt = -Infinity;

  constructor(private readonly maxRowsPerSecond: number | null) {}

  /** How long to wait (ms) at `now` before the next chunk read may start. */
  delay(now: number): number {
    return this.maxRowsPerSecond === null ? 0 : Math.max(0, this.nextAt - now);
  }

  /** A chunk read that started at `startedAt` returned `rows` rows. */
  book(startedAt: number, rows: number): void {
    if (this.maxRowsPerSecond === null) return;
    this.nextAt = Math.max(this.nextAt, startedAt) + (rows / this.maxRowsPerSecond) * 1000;
  }
}
