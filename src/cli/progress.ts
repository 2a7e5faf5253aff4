import type { WriteStream } from 'node:tty';
import type { DataProgress } from '../contract/migration';
import { describeDataProgress, fractionDone } from '../throttle/progress';

const BAR_WIDTH = 24;

/**
 * Shows a running data step's progress while `apply --wait` follows a run: on a terminal one
 * line redrawn in place with Node's TTY cursor calls (a bar, rows of estimate, rate, ETA), and
 * elsewhere (a pipeline's log) a plain line at most every `plainEveryMs`.
 */
export class DataProgressView {
  private shown = false;
  private lastPlain = 0;

  constructor(
    private readonly out: (line: string) => void,
    private readonly tty: WriteStream | null = process.stdout.isTTY ? (process.stdout as WriteStream) : null,
    private readonly plainEveryMs = 10_000,
  ) {}

  update(step: string, d: DataProgress, now = Date.now()): void {
    const text = `step ${step}: ${describeDataProgress(d)}`;
    if (this.tty) {
      const share = fractionDone(d);
      const filled = share === null ? 0 : Math.round(share * BAR_WIDTH);
      const bar = share === null ? '' : `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}] `;
      const line = `  ${bar}${text}`;
      this.tty.cursorTo(0);
      this.tty.clearLine(0);
      this.tty.write(line.length > this.tty.columns ? `${line.slice(0, Math.max(0, this.tty.columns - 1))}…` : line);
      this.shown = true;
      return;
    }
    if (now - this.lastPlain < this.plainEveryMs) return;
    this.lastPlain = now;
    this.out(`  ${text}`);
  }

  /** Before any other line: the progress line goes, the next update draws it again. */
  clear(): void {
    if (!this.tty || !this.shown) return;
    this.tty.cursorTo(0);
    this.tty.clearLine(0);
    this.shown = false;
  }
}
