import type { Logger } from '../log/logger.js';

/** Where long cluster operations report progress: redrawn lines on a TTY, log records otherwise. */
export interface Reporter {
  /** The latest state of one service (`installing`, `starting`, `healthy in 2.1 s`, …). */
  update(service: string, state: string, final?: 'ok' | 'fail'): void;
  warn(message: string): void;
  /** Stops redrawing; later output goes below the block. */
  close(): void;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A block of one line per service, redrawn in place with a spinner and elapsed seconds. */
export class TtyReporter implements Reporter {
  private readonly lines = new Map<string, { state: string; final?: 'ok' | 'fail' }>();
  private readonly started = Date.now();
  private drawn = 0;
  private frame = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly out: NodeJS.WriteStream,
    services: readonly string[],
  ) {
    for (const s of services) this.lines.set(s, { state: 'waiting' });
    this.timer = setInterval(() => this.draw(), 120);
    this.timer.unref();
    this.draw();
  }

  update(service: string, state: string, final?: 'ok' | 'fail'): void {
    this.lines.set(service, final ? { state, final } : { state });
    this.draw();
  }

  warn(message: string): void {
    this.clear();
    this.out.write(`! ${message}\n`);
    this.draw();
  }

  close(): void {
    clearInterval(this.timer);
    this.draw();
  }

  private clear(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    this.clear();
    this.frame = (this.frame + 1) % SPINNER.length;
    const width = Math.max(...[...this.lines.keys()].map((k) => k.length));
    const secs = ((Date.now() - this.started) / 1000).toFixed(1);
    const rows = [...this.lines].map(([name, { state, final }]) => {
      const mark = final === 'ok' ? '✔' : final === 'fail' ? '✖' : SPINNER[this.frame];
      return `${mark} ${name.padEnd(width)}  ${state}${final ? '' : `  (${secs} s)`}`;
    });
    this.out.write(`${rows.join('\n')}\n`);
    this.drawn = rows.length;
  }
}

/** Structured progress: one log record per state change. */
export class LogReporter implements Reporter {
  constructor(private readonly log: Logger) {}

  update(service: string, state: string, final?: 'ok' | 'fail'): void {
    if (final === 'fail') this.log.error({ service }, state);
    else this.log.info({ service }, state);
  }

  warn(message: string): void {
    this.log.warn(message);
  }

  close(): void {}
}

/** Picks the TTY reporter when stderr is a terminal, else structured logs. */
export function createReporter(log: Logger, services: readonly string[]): Reporter {
  return process.stderr.isTTY && process.env['CI'] !== 'true' ? new TtyReporter(process.stderr, services) : new LogReporter(log);
}
