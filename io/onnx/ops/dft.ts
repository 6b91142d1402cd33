/**
 * ONNX `DFT` (forward, inverse, one-sided and the inverse of a one-sided spectrum) as matmuls
 * with cosine/sine matrices: exact in float64 for the short signals models use (O(n²), no FFT).
 *
 * @module
 */
import type { DType } from "../../../core/dtype.ts";
import * as B from "../../../core/ops/arithmetic.ts";
import { fromTyped, full, zerosLike } from "../../../core/ops/creation.ts";
import { pad, stack } from "../../../core/ops/join.ts";
import { matmul } from "../../../core/ops/matmul.ts";
import * as V from "../../../core/ops/view.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { attrNum, axisOf, defineOps, ints, need } from "./registry.ts";

type T = Tensor;

/** cos and sin of 2π·k·n/len as (rows, cols) matrices, k over rows, n over cols (scaled by w_k). */
function trig(rows: number, cols: number, len: number, w?: (k: number) => number): [T, T] {
  const c = new Float64Array(rows * cols), s = new Float64Array(rows * cols);
  for (let k = 0; k < rows; k++) {
    const wk = w ? w(k) : 1;
    for (let n = 0; n < cols; n++) {
      const th = (2 * Math.PI * ((k * n) % len)) / len;
      c[k * cols + n] = wk * Math.cos(th);
      s[k * cols + n] = wk * Math.sin(th);
    }
  }
  return [fromTyped(c, [rows, cols], "f64"), fromTyped(s, [rows, cols], "f64")];
}

/** Cut or zero-pad the last axis to `len`. */
function fit(x: T, len: number): T {
  const n = x.shape[x.ndim - 1];
  if (n === len) return x;
  if (n > len) return V.slice(x, ...x.shape.slice(0, -1).map(() => null), { stop: len });
  return pad(x, x.shape.map((_, i) => (i === x.ndim - 1 ? [0, len - n] : [0, 0])));
}

defineOps({
  DFT: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const rawAxis = ctx.opset >= 20
      ? (inp[2] === undefined ? -2 : ints(inp[2])[0])
      : attrNum(ctx, "axis", 1);
    const axis = axisOf(rawAxis, x.ndim, ctx);
    const inverse = attrNum(ctx, "inverse", 0) === 1;
    const onesided = attrNum(ctx, "onesided", 0) === 1;
    const given = inp[1] === undefined ? undefined : ints(inp[1])[0];
    const len = given ?? (inverse && onesided ? 2 * (x.shape[axis] - 1) : x.shape[axis]);
    // Signal axis last, complex parts split: (..., n).
    const perm = x.shape.map((_, i) => i).filter((i) => i !== axis && i !== x.ndim - 1);
    perm.push(axis, x.ndim - 1);
    const xt = V.permute(V.astype(x, "f64"), perm);
    const re = V.select(xt, -1, 0);
    const im = x.shape[x.ndim - 1] === 2 ? V.select(xt, -1, 1) : zerosLike(re);
    let out: T;
    if (inverse && onesided) {
      // Hermitian completion: bins 1..len/2-1 count twice; DC and Nyquist once.
      const m = Math.floor(len / 2) + 1;
      const [c, s] = trig(m, len, len, (k) => (k === 0 || 2 * k === len ? 1 : 2) / len);
      const y = B.sub(matmul(fit(re, m), c), matmul(fit(im, m), s));
      out = V.unsqueeze(y, -1);
    } else {
      const bins = !inverse && onesided ? Math.floor(len / 2) + 1 : len;
      const [c, s] = trig(len, bins, len);
      const r = fit(re, len), i = fit(im, len);
      let yr: T, yi: T;
      if (inverse) {
        const inv = full([], 1 / len, { dtype: "f64" });
        yr = B.mul(B.sub(matmul(r, c), matmul(i, s)), inv);
        yi = B.mul(B.add(matmul(i, c), matmul(r, s)), inv);
      } else {
        yr = B.add(matmul(r, c), matmul(i, s));
        yi = B.sub(matmul(i, c), matmul(r, s));
      }
      out = stack([yr, yi], -1);
    }
    // Back to the input's axis order.
    const back = new Array<number>(x.ndim);
    perm.forEach((p, i) => (back[p] = i));
    return [V.astype(V.contiguous(V.permute(out, back)), x.dtype as DType)];
  },
});
