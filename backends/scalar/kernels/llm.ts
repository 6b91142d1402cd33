/**
 * Scalar kernels of the fused LLM ops (contracts: core/ops/contracts/llm.ts, semantics:
 * core/ops/llm.ts): `rope` and `rmsNorm` on contiguous f32 operands, with ggml's rounding — every
 * f32 product and sum rounded as its CPU kernels round them (JS doubles hold each f32 product
 * exactly, and one rounding to f32 after a double sum of two f32 values is the f32 sum).
 *
 * @module
 */
import type { RmsNormAttrs, RopeAttrs } from "../../../core/backend/attrs.ts";
import type { KernelCall, ScalarKernelTable } from "../../../core/backend/plugin.ts";
import { typed } from "../util.ts";

const f = Math.fround;

/** Scalar `rope`: x [T, H, D], cos/sin [T, dims/2] → y [T, H, D]. */
export function rope(call: KernelCall<RopeAttrs>): void {
  const [xt, ct, st] = call.inputs, [yt] = call.outputs;
  const x = typed(xt) as Float32Array, c = typed(ct) as Float32Array;
  const s = typed(st) as Float32Array, y = typed(yt) as Float32Array;
  const [T, H, D] = xt.shape, half = call.attrs.dims / 2;
  const neox = call.attrs.order === "neox";
  // pair i: (a, b) at offsets (2i, 2i+1) or (i, i + half) within the head
  const step = neox ? 1 : 2, gap = neox ? half : 1;
  for (let t = 0; t < T; t++) {
    const ro = ct.offset + t * half, so = st.offset + t * half;
    for (let h = 0; h < H; h++) {
      const xo = xt.offset + (t * H + h) * D, yo = yt.offset + (t * H + h) * D;
      for (let i = 0; i < half; i++) {
        const ci = c[ro + i], si = s[so + i];
        const ia = i * step, ib = ia + gap;
        const a = x[xo + ia], b = x[xo + ib];
        y[yo + ia] = f(f(a * ci) - f(b * si));
        y[yo + ib] = f(f(a * si) + f(b * ci));
      }
      for (let i = 2 * half; i < D; i++) y[yo + i] = x[xo + i];
    }
  }
}

/** Scalar `rmsNorm`: x [..., n], w [n] → y, per row as ggml's rms_norm then mul. */
export function rmsNorm(call: KernelCall<RmsNormAttrs>): void {
  const [xt, wt] = call.inputs, [yt] = call.outputs;
  const x = typed(xt) as Float32Array, w = typed(wt) as Float32Array;
  const y = typed(yt) as Float32Array;
  const n = xt.shape[xt.ndim - 1], rows = n === 0 ? 0 : xt.size / n;
  const eps = f(call.attrs.eps);
  for (let r = 0; r < rows; r++) {
    const xo = xt.offset + r * n, yo = yt.offset + r * n;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const v = x[xo + i];
      sum += f(v * v);
    }
    const scale = f(1 / f(Math.sqrt(f(f(sum / n) + eps))));
    for (let i = 0; i < n; i++) y[yo + i] = f(f(x[xo + i] * scale) * w[wt.offset + i]);
  }
}

/** The scalar backend's fused LLM kernels. */
export const kernels = { rope, rmsNorm } satisfies Partial<ScalarKernelTable>;
