/**
 * A training progress display on stderr: on a terminal one bar redrawn in place with `\r`
 * (epoch, step/total, a bar, loss EMA, samples/s, ETA); elsewhere (CI logs, pipes) plain lines
 * every few seconds, so logs stay readable.
 *
 * @module
 */

/** Where the display writes (stderr by default; tests pass a buffer). */
export interface ProgressSink {
  /** Write raw bytes. */
  writeSync(p: Uint8Array): number;
  /** Whether it is a terminal (bar mode). */
  isTerminal(): boolean;
}

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Total epochs of the run. */
  epochs: number;
  /** Steps per epoch. */
  stepsPerEpoch: number;
  /** Steps of the whole run (epochs × stepsPerEpoch, or less with --max-steps). */
  totalSteps: number;
  /** Samples per step. */
  batchSize: number;
  /** "auto": a bar on a terminal, plain lines otherwise. */
  mode?: "auto" | "bar" | "lines" | "none";
  /** Output (default Deno.stderr). */
  sink?: ProgressSink;
  /** Clock in ms (default performance.now). */
  now?: () => number;
  /** Smallest interval between redraws of the bar, ms (default 100). */
  redrawMs?: number;
  /** Interval between plain lines, ms (default 10 000). */
  lineMs?: number;
  /** Terminal width for the bar (default: the terminal's, else 100). */
  columns?: number;
}

/** Exponential moving average with bias correction (like Adam's), so early values are fair. */
export class Ema {
  #v = 0;
  #n = 0;
  /** @param beta weight of the past (0.98: about the last 50 values) */
  constructor(readonly beta = 0.98) {}
  /** Add a value; returns the current average. */
  push(x: number): number {
    this.#v = this.beta * this.#v + (1 - this.beta) * x;
    this.#n++;
    return this.value;
  }
  /** The current average (NaN before any value). */
  get value(): number {
    return this.#n === 0 ? NaN : this.#v / (1 - this.beta ** this.#n);
  }
  /** State for checkpoints. */
  state(): { v: number; n: number } {
    return { v: this.#v, n: this.#n };
  }
  /** Restore {@link state}. */
  load(s: { v: number; n: number }): void {
    this.#v = s.v;
    this.#n = s.n;
  }
}

/** `h:mm:ss` or `m:ss`. */
export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(r).padStart(2, "0")}`;
}

const enc = new TextEncoder();

/** The display. Call {@link Progress.startEpoch}, {@link Progress.step}, {@link Progress.endEpoch}. */
export class Progress {
  readonly mode: "bar" | "lines" | "none";
  #o: Required<Omit<ProgressOptions, "mode" | "columns">> & { columns: number };
  #epoch = 0;
  #epochStart = 0;
  #epochSteps = 0;
  /** Steps of the epoch already done when it (re)started: not timed. */
  #startedAt = 0;
  #lastDraw = -Infinity;
  #lastLine = -Infinity;
  #drawn = false;
  #rate = NaN;

  constructor(options: ProgressOptions) {
    const sink = options.sink ?? Deno.stderr;
    const mode = options.mode ?? "auto";
    this.mode = mode === "auto" ? (sink.isTerminal() ? "bar" : "lines") : mode;
    let columns = options.columns ?? 100;
    if (options.columns === undefined && this.mode === "bar") {
      try {
        columns = Deno.consoleSize().columns || columns; // 0 under some pseudo-terminals
      } catch { /* not a console */ }
    }
    this.#o = {
      epochs: options.epochs,
      stepsPerEpoch: options.stepsPerEpoch,
      totalSteps: options.totalSteps,
      batchSize: options.batchSize,
      sink,
      now: options.now ?? (() => performance.now()),
      redrawMs: options.redrawMs ?? 100,
      lineMs: options.lineMs ?? 10_000,
      columns,
    };
  }

  #write(s: string): void {
    if (this.mode !== "none") this.#o.sink.writeSync(enc.encode(s));
  }

  /** A plain message, on its own line (the bar is redrawn below it). */
  log(msg: string): void {
    if (this.mode === "bar" && this.#drawn) this.#write("\r\x1b[K");
    this.#write(msg + "\n");
    this.#drawn = false;
  }

  /** Start epoch `epoch` (1-based); `done` steps of it were already run (a resumed epoch). */
  startEpoch(epoch: number, done = 0): void {
    this.#epoch = epoch;
    this.#epochStart = this.#o.now();
    this.#epochSteps = done;
    this.#startedAt = done;
    this.#lastDraw = -Infinity;
    this.#lastLine = this.#o.now();
  }

  /** Samples per second in this epoch so far (NaN before the first step). */
  get samplesPerSecond(): number {
    return this.#rate;
  }

  /**
   * One step done: `globalStep` counts from 1 over the run, `loss` is the displayed (EMA) loss.
   * Returns the line drawn, if any (for tests).
   */
  step(globalStep: number, loss: number): string | null {
    this.#epochSteps++;
    const now = this.#o.now();
    const elapsed = (now - this.#epochStart) / 1000;
    const ran = this.#epochSteps - this.#startedAt;
    this.#rate = elapsed > 0 ? (ran * this.#o.batchSize) / elapsed : NaN;
    const last = globalStep >= this.#o.totalSteps || this.#epochSteps >= this.#o.stepsPerEpoch;
    if (this.mode === "bar") {
      if (!last && now - this.#lastDraw < this.#o.redrawMs) return null;
      this.#lastDraw = now;
      const line = this.#line(globalStep, loss, elapsed, ran, true);
      this.#write("\r" + line + "\x1b[K");
      this.#drawn = true;
      return line;
    }
    if (this.mode === "lines") {
      if (!last && now - this.#lastLine < this.#o.lineMs) return null;
      this.#lastLine = now;
      const line = this.#line(globalStep, loss, elapsed, ran, false);
      this.#write(line + "\n");
      return line;
    }
    return null;
  }

  #line(globalStep: number, loss: number, elapsed: number, ran: number, bar: boolean): string {
    const o = this.#o;
    const secPerStep = ran > 0 ? elapsed / ran : NaN;
    const eta = (o.totalSteps - globalStep) * secPerStep;
    const ew = String(o.epochs).length, sw = String(o.stepsPerEpoch).length;
    const head = `epoch ${String(this.#epoch).padStart(ew)}/${o.epochs} ` +
      `step ${String(this.#epochSteps).padStart(sw)}/${o.stepsPerEpoch}`;
    const tail = `loss ${loss.toFixed(4)}  ${fmtRate(this.#rate)} samples/s  ` +
      `ETA ${fmtDuration(eta)}`;
    if (!bar) return `${head}  ${tail}`;
    const width = Math.max(0, Math.min(30, o.columns - head.length - tail.length - 6));
    if (width < 5) return `${head}  ${tail}`.slice(0, Math.max(40, o.columns - 1));
    const fill = Math.round((this.#epochSteps / o.stepsPerEpoch) * width);
    return `${head} [${"█".repeat(fill)}${"·".repeat(width - fill)}] ${tail}`;
  }

  /** End the epoch: finish the bar's line. */
  endEpoch(): void {
    if (this.mode === "bar" && this.#drawn) this.#write("\n");
    this.#drawn = false;
  }
}

function fmtRate(r: number): string {
  if (!Number.isFinite(r)) return "-";
  return r >= 100 ? r.toFixed(0) : r.toFixed(1);
}
