/**
 * Fused batch normalization for training: `batchNormTrain` and its gradient `batchNormBackward`
 * (the reference every backend's kernels are tested against).
 *
 * Contract (every backend): operands contiguous, one float dtype (f32 or f64); x of shape
 * (N, C, *) normalized per channel over every other axis (count = size / C > 0).
 * - `batchNormTrain`: inputs x, then weight (C,) if `hasWeight`, bias (C,) if `hasBias`; outputs
 *   y (x's shape), mean (C,) and the biased variance (C,): y = (x − mean)·(var + eps)^−½·w + b.
 *   The variance is Σ(x − mean)² / count (two passes, not E[x²] − mean²).
 * - `batchNormBackward`: inputs gy, x, mean, var, then weight if `hasWeight`; outputs dx,
 *   dweight = Σ gy·x̂ and dbias = Σ gy (per channel), with x̂ = (x − mean)·(var + eps)^−½ and
 *   dx = w·(var + eps)^−½·(gy − Σgy / count − x̂·Σ(gy·x̂) / count).
 * - `batchNormRunning`: inputs the batch mean and biased variance; outputs the running mean and
 *   variance, read and written in place (PyTorch's update): mean ← (1 − m)·mean + m·batch mean,
 *   var ← (1 − m)·var + m·batch var·count / (count − 1).
 * Sums here run in float64, results are rounded once to the element type.
 *
 * @module
 */
import type { BatchNormAttrs, BatchNormRunningAttrs } from "../../../core/backend/attrs.ts";
import type { KernelCall, ScalarKernelTable } from "../../../core/backend/plugin.ts";
import { typed } from "../util.ts";

type F = Float32Array | Float64Array;

/** N, C and the spatial size S of x (N, C, *). */
function dims(shape: readonly number[]): [number, number, number] {
  const [N, C] = shape;
  return [N, C, shape.slice(2).reduce((a, b) => a * b, 1)];
}

/** Scalar `batchNormTrain` kernel. */
export function batchNormTrain(call: KernelCall<BatchNormAttrs>): void {
  const { eps, hasWeight, hasBias } = call.attrs;
  const [xt] = call.inputs;
  const wt = hasWeight ? call.inputs[1] : null;
  const bt = hasBias ? call.inputs[hasWeight ? 2 : 1] : null;
  const [yt, mt, vt] = call.outputs;
  const [N, C, S] = dims(xt.shape);
  const x = typed(xt) as F, y = typed(yt) as F, mo = typed(mt) as F, vo = typed(vt) as F;
  const w = wt ? typed(wt) as F : null, b = bt ? typed(bt) as F : null;
  const cnt = N * S;
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) {
      const o = xt.offset + (n * C + c) * S;
      for (let j = 0; j < S; j++) s += x[o + j];
    }
    const mu = s / cnt;
    let q = 0;
    for (let n = 0; n < N; n++) {
      const o = xt.offset + (n * C + c) * S;
      for (let j = 0; j < S; j++) q += (x[o + j] - mu) ** 2;
    }
    const v = q / cnt;
    const inv = 1 / Math.sqrt(v + eps);
    const scale = w ? w[wt!.offset + c] * inv : inv;
    const shift = b ? b[bt!.offset + c] : 0;
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * S;
      for (let j = 0; j < S; j++) {
        y[yt.offset + o + j] = (x[xt.offset + o + j] - mu) * scale + shift;
      }
    }
    mo[mt.offset + c] = mu;
    vo[vt.offset + c] = v;
  }
}

/** Scalar `batchNormBackward` kernel. */
export function batchNormBackward(call: KernelCall<BatchNormAttrs>): void {
  const { eps, hasWeight } = call.attrs;
  const [gt, xt, mt, vt] = call.inputs;
  const wt = hasWeight ? call.inputs[4] : null;
  const [dxt, dwt, dbt] = call.outputs;
  const [N, C, S] = dims(xt.shape);
  const g = typed(gt) as F, x = typed(xt) as F, m = typed(mt) as F, va = typed(vt) as F;
  const dx = typed(dxt) as F, dw = typed(dwt) as F, db = typed(dbt) as F;
  const w = wt ? typed(wt) as F : null;
  const cnt = N * S;
  for (let c = 0; c < C; c++) {
    const mu = m[mt.offset + c], inv = 1 / Math.sqrt(va[vt.offset + c] + eps);
    let sg = 0, sgx = 0;
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * S;
      for (let j = 0; j < S; j++) {
        const gi = g[gt.offset + o + j];
        sg += gi;
        sgx += gi * (x[xt.offset + o + j] - mu) * inv;
      }
    }
    const k = (w ? w[wt!.offset + c] : 1) * inv, mg = sg / cnt, mgx = sgx / cnt;
    for (let n = 0; n < N; n++) {
      const o = (n * C + c) * S;
      for (let j = 0; j < S; j++) {
        const xh = (x[xt.offset + o + j] - mu) * inv;
        dx[dxt.offset + o + j] = k * (g[gt.offset + o + j] - mg - xh * mgx);
      }
    }
    dw[dwt.offset + c] = sgx;
    db[dbt.offset + c] = sg;
  }
}

/** Scalar `batchNormRunning` kernel. */
export function batchNormRunning(call: KernelCall<BatchNormRunningAttrs>): void {
  const { momentum: m, count } = call.attrs;
  const [bmt, bvt] = call.inputs;
  const [rmt, rvt] = call.outputs;
  const bm = typed(bmt) as F, bv = typed(bvt) as F, rm = typed(rmt) as F, rv = typed(rvt) as F;
  const unbias = count / (count - 1);
  for (let c = 0; c < rmt.size; c++) {
    rm[rmt.offset + c] = (1 - m) * rm[rmt.offset + c] + m * bm[bmt.offset + c];
    rv[rvt.offset + c] = (1 - m) * rv[rvt.offset + c] + m * bv[bvt.offset + c] * unbias;
  }
}

/** The scalar backend's batch-norm kernels. */
export const kernels = { batchNormTrain, batchNormBackward, batchNormRunning } satisfies Partial<
  ScalarKernelTable
>;
