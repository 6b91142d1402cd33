/**
 * Fused optimizer steps: `adamStep`, one Adam/AdamW update of a parameter and its state in place.
 *
 * Contract (every backend's `adamStep`): input `grad`; outputs `p`, `m` (exp_avg), `v`
 * (exp_avg_sq) and, with AMSGrad, `vmax`, all read and written in place; every operand
 * contiguous, of one shape and one float dtype (f32 or f64). Per element, in PyTorch's order and
 * in the element type: `g = ±grad`; decoupled decay `p = p·(1 − lr·wd)`, or L2 `g = g + wd·p`;
 * `m = m + (1 − β1)(g − m)`; `v = β2·v + (1 − β2)·g·g`; AMSGrad `vmax = max(vmax, v)` (NaN
 * propagates) and `vmax` read instead of `v`; `p = p + (−stepSize)·(m / (√v / √bc2 + eps))`.
 * New `m` and `v` values below the dtype's smallest normal number are stored as zero (flush to
 * zero, like PyTorch with `torch.set_flush_denormal(True)`): the first moment of an element whose
 * gradient stays zero decays by β1 a step into subnormals, whose arithmetic is ~50× slower on
 * x86; the parameter's update from such a moment is below its rounding unit anyway.
 *
 * @module
 */
import { adamScalars, type AdamStepAttrs } from "../../../core/backend/attrs.ts";
import type { KernelCall, ScalarKernelTable } from "../../../core/backend/plugin.ts";
import { typed } from "../util.ts";
import { finfo } from "../../../core/finfo.ts";

/** Scalar `adamStep` kernel (f32 rounded after every operation, like the WASM kernel). */
export function adamStep(call: KernelCall<AdamStepAttrs>): void {
  const [grad] = call.inputs;
  const [pt, mt, vt, vmaxt] = call.outputs;
  const r = pt.dtype === "f32" ? Math.fround : (x: number) => x;
  const tiny = finfo(pt.dtype).tiny;
  const [decay, wd, c1, b2, c2, eps, step, bc2s] = adamScalars(call.attrs).map(r);
  const { maximize } = call.attrs, mode = call.attrs.decay;
  const gr = typed(grad) as Float32Array | Float64Array;
  const p = typed(pt) as Float32Array | Float64Array;
  const m = typed(mt) as Float32Array | Float64Array;
  const v = typed(vt) as Float32Array | Float64Array;
  const vmax = vmaxt ? typed(vmaxt) as Float32Array | Float64Array : null;
  const n = pt.size;
  for (let i = 0; i < n; i++) {
    let g = maximize ? -gr[grad.offset + i] : gr[grad.offset + i];
    let pi = p[pt.offset + i];
    if (mode === "decoupled") pi = r(pi * decay);
    else if (mode === "l2") g = r(g + r(wd * pi));
    const m0 = m[mt.offset + i];
    let mi = r(m0 + r(c1 * r(g - m0)));
    let vi = r(r(b2 * v[vt.offset + i]) + r(c2 * r(g * g)));
    if (mi < tiny && mi > -tiny) mi = 0;
    if (vi < tiny) vi = 0;
    m[mt.offset + i] = mi;
    v[vt.offset + i] = vi;
    if (vmax) {
      const w = vmax[vmaxt.offset + i];
      vi = w > vi || w !== w ? w : vi;
      vmax[vmaxt.offset + i] = vi;
    }
    p[pt.offset + i] = r(pi + r(step * r(mi / r(r(r(Math.sqrt(vi)) / bc2s) + eps))));
  }
}

/** The scalar backend's optimizer kernels. */
export const kernels = { adamStep } satisfies Partial<ScalarKernelTable>;
