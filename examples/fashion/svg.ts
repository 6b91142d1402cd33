/**
 * Training curves as a hand-written SVG: train loss per step (raw and smoothed) on the left
 * axis, test accuracy per epoch on the right axis, a shared step axis, ticks at "nice" values,
 * axis labels, a legend and epoch boundaries.
 *
 * @module
 */

/** One evaluation: the step it came after, its epoch, and the accuracy in [0, 1]. */
export interface AccuracyPoint {
  /** Global step (1-based) at the end of the epoch. */
  step: number;
  /** Epoch (1-based). */
  epoch: number;
  /** Test accuracy in [0, 1]. */
  accuracy: number;
}

/** What {@link renderCurves} plots. */
export interface Curves {
  /** Train loss of each step, in order (step i + 1). */
  losses: readonly number[];
  /** Test accuracy after each epoch. */
  accuracy: readonly AccuracyPoint[];
  /** Title line. */
  title?: string;
  /** Total steps of the schedule (x axis extent; default: the steps plotted). */
  totalSteps?: number;
}

/** Evenly spaced "nice" ticks (1, 2, 2.5, 5 × 10^k) covering [lo, hi], about `n` of them. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / Math.max(1, n);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.ceil(lo / step - 1e-9) * step;
  const out: number[] = [];
  for (let v = first; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmtTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 10000) return `${Number((v / 1000).toPrecision(4))}k`;
  return String(Number(v.toPrecision(4)));
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** Smoothed copy (bias-corrected EMA, as the progress bar shows). */
function smooth(xs: readonly number[], beta = 0.98): number[] {
  let v = 0;
  return xs.map((x, i) => {
    v = beta * v + (1 - beta) * x;
    return v / (1 - beta ** (i + 1));
  });
}

/** Keep at most `max` points of a polyline (min/max per bucket keeps spikes visible). */
function decimate(pts: [number, number][], max: number): [number, number][] {
  if (pts.length <= max) return pts;
  const out: [number, number][] = [];
  const per = pts.length / (max / 2);
  for (let b = 0; b * per < pts.length; b++) {
    const chunk = pts.slice(Math.floor(b * per), Math.floor((b + 1) * per));
    if (chunk.length === 0) continue;
    let lo = chunk[0], hi = chunk[0];
    for (const p of chunk) {
      if (p[1] < lo[1]) lo = p;
      if (p[1] > hi[1]) hi = p;
    }
    if (lo[0] <= hi[0]) out.push(lo, hi);
    else out.push(hi, lo);
  }
  return out;
}

/** The SVG document (a string) of the curves. */
export function renderCurves(c: Curves): string {
  const W = 900, H = 480;
  const L = 70, R = 70, T = 50, B = 60;
  const pw = W - L - R, ph = H - T - B;
  const finite = c.losses.filter((x) => Number.isFinite(x));
  const steps = Math.max(1, c.totalSteps ?? 0, c.losses.length, ...c.accuracy.map((a) => a.step));
  const xTicks = niceTicks(0, steps, 8).filter((v) => v <= steps);
  const lossMax = finite.length ? Math.max(...finite) : 1;
  const yTicks = niceTicks(0, lossMax > 0 ? lossMax : 1, 5);
  // The top tick must cover the largest loss (the first steps' ~2.3), not clip it.
  if (yTicks.length > 1 && yTicks[yTicks.length - 1] < lossMax) {
    const d = yTicks[1] - yTicks[0];
    yTicks.push(Number((yTicks[yTicks.length - 1] + d).toPrecision(12)));
  }
  const yMax = yTicks[yTicks.length - 1] || 1;
  const accs = c.accuracy.map((a) => a.accuracy * 100);
  const accLo = accs.length ? Math.max(0, Math.floor(Math.min(...accs) / 5) * 5 - 5) : 0;
  const aTicks = niceTicks(accLo, 100, 5).filter((v) => v >= accLo && v <= 100);
  const aLo = aTicks[0] ?? accLo, aHi = 100;

  const x = (s: number) => L + (s / steps) * pw;
  const yL = (v: number) => T + ph - (Math.min(v, yMax) / yMax) * ph;
  const yA = (v: number) => T + ph - ((v - aLo) / (aHi - aLo)) * ph;
  const f = (v: number) => v.toFixed(1);
  const o: string[] = [];
  o.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" ` +
      `viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  o.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  if (c.title) {
    o.push(
      `<text x="${W / 2}" y="28" text-anchor="middle" font-size="16" ` +
        `font-weight="bold">${esc(c.title)}</text>`,
    );
  }
  // Grid, ticks and tick labels.
  o.push(`<g class="grid" stroke="#e6e6e6" stroke-width="1">`);
  for (const v of yTicks) {
    o.push(`<line x1="${L}" y1="${f(yL(v))}" x2="${L + pw}" y2="${f(yL(v))}"/>`);
  }
  o.push(`</g>`);
  o.push(`<g class="epochs" stroke="#bbbbbb" stroke-dasharray="4 4">`);
  for (const a of c.accuracy) {
    o.push(`<line x1="${f(x(a.step))}" y1="${T}" x2="${f(x(a.step))}" y2="${T + ph}"/>`);
  }
  o.push(`</g>`);
  o.push(`<g class="axes" stroke="#333333" stroke-width="1" fill="none">`);
  o.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}"/>`);
  for (const v of xTicks) {
    o.push(`<line x1="${f(x(v))}" y1="${T + ph}" x2="${f(x(v))}" y2="${T + ph + 5}"/>`);
  }
  for (const v of yTicks) {
    o.push(`<line x1="${L - 5}" y1="${f(yL(v))}" x2="${L}" y2="${f(yL(v))}"/>`);
  }
  for (const v of aTicks) {
    o.push(`<line x1="${L + pw}" y1="${f(yA(v))}" x2="${L + pw + 5}" y2="${f(yA(v))}"/>`);
  }
  o.push(`</g>`);
  o.push(`<g class="x-ticks" text-anchor="middle" fill="#333333">`);
  for (const v of xTicks) o.push(`<text x="${f(x(v))}" y="${T + ph + 19}">${fmtTick(v)}</text>`);
  o.push(`</g>`);
  o.push(`<g class="loss-ticks" text-anchor="end" fill="#1f77b4">`);
  for (const v of yTicks) o.push(`<text x="${L - 8}" y="${f(yL(v) + 4)}">${fmtTick(v)}</text>`);
  o.push(`</g>`);
  o.push(`<g class="accuracy-ticks" text-anchor="start" fill="#d62728">`);
  for (const v of aTicks) {
    o.push(`<text x="${L + pw + 8}" y="${f(yA(v) + 4)}">${fmtTick(v)}</text>`);
  }
  o.push(`</g>`);
  // Axis labels.
  o.push(`<text x="${L + pw / 2}" y="${H - 15}" text-anchor="middle">step</text>`);
  o.push(
    `<text transform="translate(20 ${T + ph / 2}) rotate(-90)" text-anchor="middle" ` +
      `fill="#1f77b4">train loss</text>`,
  );
  o.push(
    `<text transform="translate(${W - 18} ${T + ph / 2}) rotate(90)" text-anchor="middle" ` +
      `fill="#d62728">test accuracy (%)</text>`,
  );
  // Series: raw loss (light), smoothed loss, accuracy markers and line.
  const pts = (ys: readonly number[]) =>
    decimate(
      ys.map((v, i) => [i + 1, v] as [number, number]).filter(([, v]) => Number.isFinite(v)),
      2000,
    ).map(([s, v]) => `${f(x(s))},${f(yL(v))}`).join(" ");
  if (finite.length) {
    o.push(
      `<polyline class="loss" fill="none" stroke="#aec7e8" stroke-width="1" ` +
        `points="${pts(c.losses)}"/>`,
    );
    o.push(
      `<polyline class="loss-ema" fill="none" stroke="#1f77b4" stroke-width="2" ` +
        `points="${pts(smooth(c.losses))}"/>`,
    );
  }
  if (c.accuracy.length) {
    const ap = c.accuracy.map((a) => `${f(x(a.step))},${f(yA(a.accuracy * 100))}`).join(" ");
    o.push(
      `<polyline class="accuracy" fill="none" stroke="#d62728" stroke-width="2" points="${ap}"/>`,
    );
    o.push(`<g class="accuracy-points" fill="#d62728">`);
    for (const a of c.accuracy) {
      const cx = f(x(a.step)), cy = f(yA(a.accuracy * 100));
      o.push(
        `<circle cx="${cx}" cy="${cy}" r="4"><title>epoch ${a.epoch}: ${
          (a.accuracy * 100).toFixed(2)
        }%</title></circle>`,
      );
      o.push(
        `<text x="${cx}" y="${f(yA(a.accuracy * 100) - 9)}" text-anchor="middle" ` +
          `font-size="11">${(a.accuracy * 100).toFixed(1)}%</text>`,
      );
    }
    o.push(`</g>`);
  }
  // Legend.
  const lx = L + pw - 190, ly = T + 12;
  o.push(`<g class="legend">`);
  o.push(
    `<rect x="${lx - 8}" y="${ly - 10}" width="190" height="58" fill="white" ` +
      `fill-opacity="0.85" stroke="#cccccc"/>`,
  );
  const entry = (i: number, color: string, w: number, label: string) =>
    o.push(
      `<line x1="${lx}" y1="${ly + i * 17}" x2="${lx + 24}" y2="${ly + i * 17}" ` +
        `stroke="${color}" stroke-width="${w}"/>` +
        `<text x="${lx + 32}" y="${ly + i * 17 + 4}">${label}</text>`,
    );
  entry(0, "#aec7e8", 1, "train loss (per step)");
  entry(1, "#1f77b4", 2, "train loss (EMA)");
  entry(2, "#d62728", 2, "test accuracy (per epoch)");
  o.push(`</g>`);
  o.push(`</svg>`);
  return o.join("\n") + "\n";
}
