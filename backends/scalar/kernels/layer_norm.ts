/**
 * Fused layer normalization: `layerNorm` and its gradient `layerNormBackward` (the reference
 * every backend's kernels are tested against).
 *
 * Contract (every backend): operands contiguous, one float dtype (f32 or f64); x read as rows of
 * `size` elements (the normalized trailing axes), weight and bias of `size` elements.
 * - `layerNorm`: inputs x, then weight if `hasWeight`, bias if `hasBias`; outputs y (x's shape),
 *   the mean and rstd = (var + eps)^−½ of each row (rows,): y = (x − mean)·rstd·w + b, the
 *   variance Σ(x − mean)² / size (two passes).
 * - `layerNormBackward`: inputs gy, x, mean, rstd, then weight if `hasWeight`; outputs dx,
 *   dweight = Σ_rows gy·x̂, dbias = Σ_rows gy, with x̂ = (x − mean)·rstd, ĝ = gy·w and
 *   dx = rstd·(ĝ − Σĝ / size − x̂·Σ(ĝ·x̂) / size) per row.
 * Sums here run in float64, results are rounded once to the element type.
 *
 * @module
 */
import type { LayerNormAttrs } from "../../../core/backend/attrs.ts";
import type { KernelCall, ScalarKernelTable } from "../../../core/backend/plugin.ts";
import { typed } from "../util.ts";

type F = Float32Array | Float64Array;

/** Scalar `layerNorm` kernel. */
export function layerNorm(call: KernelCall<LayerNormAttrs>): void {
  const { eps, size: D, hasWeight, hasBias } = call.attrs;
  const [xt] = call.inputs;
  const wt = hasWeight ? call.inputs[1] : null;
  const bt = hasBias ? call.inputs[hasWeight ? 2 : 1] : null;
  const [yt, mt, rt] = call.outputs;
  const x = typed(xt) as F, y = typed(yt) as F, mo = typed(mt) as F, ro = typed(rt) as F;
  const w = wt ? typed(wt) as F : null, b = bt ? typed(bt) as F : null;
  const R = D === 0 ? 0 : xt.size / D;
  for (let r = 0; r < R; r++) {
    const o = xt.offset + r * D;
    let s = 0;
    for (let j = 0; j < D; j++) s += x[o + j];
    const mu = s / D;
    let q = 0;
    for (let j = 0; j < D; j++) q += (x[o + j] - mu) ** 2;
    const rs = 1 / Math.sqrt(q / D + eps);
    for (let j = 0; j < D; j++) {
      let v = (x[o + j] - mu) * rs;
      if (w) v *= w[wt!.offset + j];
      if (b) v += b[bt!.offset + j];
      y[yt.offset + r * D + j] = v;
    }
    mo[mt.offset + r] = mu;
    ro[rt.offset + r] = rs;
  }
}

/** Scalar `layerNormBackward` kernel. */
export function layerNormBackward(call: KernelCall<LayerNormAttrs>): void {
  const { size: D, hasWeight } = call.attrs;
  const [gt, xt, mt, rt] = call.inputs;
  const wt = hasWeight ? call.inputs[4] : null;
  const [dxt, dwt, dbt] = call.outputs;
  const g = typed(gt) as F, x = typed(xt) as F, m = typed(mt) as F, rsd = typed(rt) as F;
  const dx = typed(dxt) as F, dw = typed(dwt) as F, db = typed(dbt) as F;
  const w = wt ? typed(wt) as F : null;
  const R = D === 0 ? 0 : xt.size / D;
  const sw = new Float64Array(D), sb = new Float64Array(D);
  for (let r = 0; r < R; r++) {
    const mu = m[mt.offset + r], rs = rsd[rt.offset + r];
    const gx = gt.offset + r * D, xx = xt.offset + r * D;
    let s1 = 0, s2 = 0;
    for (let j = 0; j < D; j++) {
      const xh = (x[xx + j] - mu) * rs, gi = g[gx + j];
      const gh = w ? gi * w[wt!.offset + j] : gi;
      s1 += gh;
      s2 += gh * xh;
      sw[j] += gi * xh;
      sb[j] += gi;
    }
    for (let j = 0; j < D; j++) {
      const xh = (x[xx + j] - mu) * rs, gi = g[gx + j];
      const gh = w ? gi * w[wt!.offset + j] : gi;
      dx[dxt.offset + r * D + j] = rs * (gh - s1 / D - xh * s2 / D);
    }
  }
  for (let j = 0; j < D; j++) {
    dw[dwt.offset + j] = sw[j];
    db[dbt.offset + j] = sb[j];
  }
}

/** The scalar backend's layer-norm kernels. */
export const kernels = { layerNorm, layerNormBackward } satisfies Partial<ScalarKernelTable>;
