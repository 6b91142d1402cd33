/**
 * A one-line progress bar for downloads on stderr: name, bar, percent, bytes, speed and ETA.
 *
 * @module
 */
import type { ProgressInfo } from "./download.ts";

const UNITS = ["B", "kB", "MB", "GB", "TB"];

/** `1234567` → `"1.2 MB"` (powers of 1000, as download tools print). */
export function formatBytes(n: number): string {
  let i = 0;
  while (n >= 1000 && i < UNITS.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${UNITS[i]}`;
}

/** `75` → `"1:15"`, `3725` → `"1:02:05"`. */
export function formatEta(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "--:--";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const two = (v: number) => String(v).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
}

/** One line of the bar for a progress report (no carriage return). */
export function progressLine(p: ProgressInfo, width = 24): string {
  const speed = `${formatBytes(p.bytesPerSecond)}/s`;
  if (p.total === undefined || p.total === 0) {
    return `${p.file}  ${formatBytes(p.received)}  ${speed}`;
  }
  const frac = Math.min(1, p.received / p.total);
  const full = Math.round(frac * width);
  const bar = "#".repeat(full) + "-".repeat(width - full);
  const eta = p.done ? "done" : `ETA ${formatEta(p.etaSeconds ?? NaN)}`;
  return `${p.file}  [${bar}] ${(frac * 100).toFixed(0).padStart(3)}%  ` +
    `${formatBytes(p.received)} / ${formatBytes(p.total)}  ${speed}  ${eta}`;
}

/**
 * A progress callback that redraws one line on a stream (stderr by default) and ends it with a
 * newline when the download finishes.
 *
 * @example
 * ```ts ignore
 * import { progressBar, pull } from "@aprender/compute/io";
 * await pull("owner/repo:Q4_K_M", { onProgress: progressBar() });
 * // model-Q4_K_M.gguf  [############------------]  50%  400.0 MB / 800.0 MB  52.1 MB/s  ETA 0:08
 * ```
 */
export function progressBar(
  write: (s: string) => void = (s) => Deno.stderr.writeSync(new TextEncoder().encode(s)),
): (p: ProgressInfo) => void {
  return (p) => write(`\r\x1b[2K${progressLine(p)}${p.done ? "\n" : ""}`);
}
