/**
 * Concat of small CPU tensors in JS: a streaming model joins a few hundred values per call
 * (Silero's LSTM state), where core's concat costs 6-10 µs and this 3 µs. Larger tensors, other
 * dtypes and devices take core's concat. (A JS Pad measured slower than core's: 29 vs 12 µs for
 * a 1×512 reflect pad.)
 *
 * @module
 */
import { fromTyped } from "../../../core/ops/creation.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { newF32, readF32 } from "./host.ts";

/**
 * Largest output (elements) built here: above a few thousand, core's single-copy kernel wins
 * (2×[1,1,128]: JS 3 µs vs core 6-10; [1,32,32,32]+[1,4,32,32]: JS 21-27 µs vs core 13-23).
 */
const MAX_ELEMENTS = 2048;

type Flat = Float32Array | Float64Array | Int32Array | BigInt64Array;
const FLAT = new Set(["f32", "f64", "i32", "i64"]);

function small(t: Tensor): boolean {
  return t.device === "cpu" && FLAT.has(t.dtype);
}

/** `xs` joined along `axis`, or null when it does not apply (shapes, size, dtype, device). */
export function concatSmall(xs: readonly Tensor[], axis: number): Tensor | null {
  const x0 = xs[0];
  if (!xs.every((t) => small(t) && t.dtype === x0.dtype && t.ndim === x0.ndim)) return null;
  if (!xs.every((t) => t.shape.every((n, i) => i === axis || n === x0.shape[i]))) return null;
  const shape = [...x0.shape];
  shape[axis] = xs.reduce((a, t) => a + t.shape[axis], 0);
  const size = shape.reduce((a, b) => a * b, 1);
  if (size > MAX_ELEMENTS) return null;
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  if (x0.dtype === "f32") {
    // f32: written into the new tensor's storage, inputs read in place (no copies).
    const [t, out] = newF32(shape);
    let pos = 0;
    for (let o = 0; o < outer; o++) {
      for (const x of xs) {
        const chunk = x.size / outer, src = readF32(x);
        out.set(src.subarray(o * chunk, (o + 1) * chunk), pos);
        pos += chunk;
      }
    }
    return t;
  }
  const srcs = xs.map((t) => t.dataSync() as Flat);
  const out = new (srcs[0].constructor as new (n: number) => Flat)(size);
  let pos = 0;
  for (let o = 0; o < outer; o++) {
    xs.forEach((t, j) => {
      const chunk = t.size / outer;
      (out as Float32Array).set(srcs[j].subarray(o * chunk, (o + 1) * chunk) as Float32Array, pos);
      pos += chunk;
    });
  }
  return fromTyped(out, shape, x0.dtype);
}

/** Largest input (elements) {@link meanSmall} reduces in JS. */
const MEAN_MAX = 1024;

/**
 * Mean of a small CPU f32 tensor over `axes` (sorted or not, no repeats), keeping them as length
 * 1 when `keep`: a streaming model averages a handful of values (Silero's [1, 1] output), where
 * core's reduction costs ~10 µs. Sums in f64, as core's pairwise f32 sum rounds no worse at
 * these sizes. Null when it does not apply.
 */
export function meanSmall(x: Tensor, axes: readonly number[], keep: boolean): Tensor | null {
  if (x.dtype !== "f32" || x.device !== "cpu" || x.size > MEAN_MAX || x.size === 0) return null;
  const red = x.shape.map((_, i) => axes.includes(i));
  const outShape = keep
    ? x.shape.map((d, i) => (red[i] ? 1 : d))
    : x.shape.filter((_, i) => !red[i]);
  const [t, out] = newF32(outShape, true);
  const src = readF32(x);
  // Output position of each input element: the index with reduced axes dropped.
  const acc = new Float64Array(out.length);
  const idx = x.shape.map(() => 0);
  let count = 1;
  x.shape.forEach((d, i) => red[i] && (count *= d));
  for (let e = 0; e < src.length; e++) {
    let o = 0;
    for (let i = 0; i < idx.length; i++) if (!red[i]) o = o * x.shape[i] + idx[i];
    acc[o] += src[e];
    for (let i = idx.length - 1; i >= 0; i--) {
      if (++idx[i] < x.shape[i]) break;
      idx[i] = 0;
    }
  }
  for (let o = 0; o < out.length; o++) out[o] = acc[o] / count;
  return t;
}
