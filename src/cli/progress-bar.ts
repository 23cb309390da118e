/** What a progress bar draws on: a terminal stream (process.stdout when it is a TTY). */
export interface Terminal {
  write(text: string): unknown;
  /** Width in characters, when known. */
  readonly columns?: number | undefined;
}

/** What one line of the bar shows. */
export interface ProgressState {
  readonly label: string;
  /** Items done and in all; null while the job has not reported yet. */
  readonly progress: { readonly itemsDone: number; readonly itemsTotal: number } | null;
  readonly elapsedMs: number;
}

const eraseLine = '\r\x1b[2K';

/**
 * A single-line progress bar redrawn in place: label, bar, items done/total, percent and elapsed time.
 * It redraws every `tickMs` so that the elapsed time moves even while the figures do not; `stop()` erases
 * the line so that the final output starts on a clean one.
 */
export class ProgressBar {
  private progress: ProgressState['progress'] = null;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt: number;

  constructor(
    private readonly terminal: Terminal,
    private readonly label: string,
    private readonly now: () => number = Date.now,
    tickMs = 250,
  ) {
    this.startedAt = now();
    this.draw();
    this.timer = setInterval(() => this.draw(), tickMs);
    // A forgotten bar must not keep the process alive.
    this.timer.unref();
  }

  /** Shows new figures. */
  update(progress: ProgressState['progress']): void {
    this.progress = progress;
    this.draw();
  }

  /** Stops redrawing and erases the line. */
  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.terminal.write(eraseLine);
  }

  private draw(): void {
    const line = renderProgressLine(
      { label: this.label, progress: this.progress, elapsedMs: this.now() - this.startedAt },
      this.terminal.columns || 80,
    );
    this.terminal.write(`${eraseLine}${line}`);
  }
}

/**
 * One line of the bar, at most `width - 1` characters (writing into the last column makes some terminals
 * wrap): `label [#####.....] 1,234/5,000  24%  0:12`. Before the job reports, the bar is empty and the
 * figures say "waiting".
 */
export function renderProgressLine(state: ProgressState, width: number): string {
  const { progress } = state;
  const elapsed = formatElapsed(state.elapsedMs);
  let figures: string;
  let fraction = 0;
  if (progress === null) {
    figures = `waiting  ${elapsed}`;
  } else {
    fraction =
      progress.itemsTotal > 0
        ? Math.min(1, progress.itemsDone / progress.itemsTotal)
        : progress.itemsDone > 0
          ? 1
          : 0;
    const percent = `${Math.floor(fraction * 100)}%`;
    figures = `${progress.itemsDone.toLocaleString('en-US')}/${progress.itemsTotal.toLocaleString('en-US')}  ${percent}  ${elapsed}`;
  }
  const room = width - 1 - state.label.length - figures.length - 4;
  if (room < 5) return `${state.label} ${figures}`.slice(0, Math.max(0, width - 1));
  const barWidth = Math.min(40, room);
  const filled = Math.round(fraction * barWidth);
  return `${state.label} [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${figures}`;
}

/** `m:ss`, or `h:mm:ss` from an hour on. */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}
