/**
 * Fused ops of a decoder's forward pass: `rope` (rotary position embeddings) and `rmsNorm`, each
 * one kernel where the device has it, in place of the chain of elementwise ops they replace (a
 * decode step of a 22-layer model ran ~10 ops per rotated tensor and 5 per norm, each paying its
 * dispatch). Where no kernel takes the operands (another device, another dtype, an input that
 * requires gradients) they compose the same arithmetic from ops.
 *
 * @module
 */
import type { RmsNormAttrs, RopeAttrs } from "../backend/attrs.ts";
import { needsGrad } from "../autograd.ts";
import { hasKernel } from "../backend/registry.ts";
import { DTypeError, fmtShape, ShapeError } from "../errors.ts";
import { runKernel1 } from "../op.ts";
import type { Tensor } from "../tensor.ts";
import { concat, stack } from "./join.ts";
import { mean } from "./reduce.ts";

export type { RmsNormAttrs, RopeAttrs };

/**
 * Rotate the first `dims` features of every head of `x` `[T, H, D]` by the angles whose cosines
 * and sines are `cos`, `sin` `[T, dims/2]` (row t for position t), as ggml's `rope` does:
 * for each pair (a, b) — `(x[2i], x[2i+1])` in "normal" order, `(x[i], x[i + dims/2])` in
 * "neox" order — `a' = a·cos − b·sin`, `b' = a·sin + b·cos`, each product and sum rounded to f32.
 * Features past `dims` pass through.
 *
 * @example
 * ```ts
 * import { tensor } from "@aprender/compute";
 * import { rope } from "@aprender/compute/internal";
 * const x = tensor([[[1, 2, 3, 4]]]); // [T = 1, H = 1, D = 4]
 * const y = rope(x, tensor([[0, 1]]), tensor([[1, 0]]), { order: "normal", dims: 4 });
 * console.log(y.toArraySync()); // [[[-2, 1, 3, 4]]]
 * ```
 */
export function rope(x: Tensor, cos: Tensor, sin: Tensor, attrs: RopeAttrs): Tensor {
  const { order, dims } = attrs;
  if (x.ndim !== 3) {
    throw new ShapeError(
      `rope: x must be [T, heads, headDim], got ${fmtShape(x.shape)}. Hint: reshape the ` +
        `projection to [T, heads, headDim] first.`,
    );
  }
  const [T, , D] = x.shape, half = dims / 2;
  if (!Number.isInteger(half) || dims <= 0 || dims > D) {
    throw new ShapeError(
      `rope: dims must be even and in 2..${D} (the head size), got ${dims}.`,
    );
  }
  if (order !== "normal" && order !== "neox") {
    throw new ShapeError(`rope: order must be "normal" or "neox", got ${JSON.stringify(order)}.`);
  }
  for (const [name, t] of [["cos", cos], ["sin", sin]] as const) {
    if (t.ndim !== 2 || t.shape[0] !== T || t.shape[1] !== half) {
      throw new ShapeError(
        `rope: ${name} must be [T, dims/2] = [${T}, ${half}], got ${fmtShape(t.shape)}.`,
      );
    }
  }
  if (x.dtype !== "f32" || cos.dtype !== "f32" || sin.dtype !== "f32") {
    throw new DTypeError(
      `rope: x, cos and sin must be f32, got ${x.dtype}, ${cos.dtype}, ${sin.dtype}. ` +
        `Hint: .astype("f32").`,
    );
  }
  if (!needsGrad([x, cos, sin]) && hasKernel("rope", x.device)) {
    const xc = x.contiguous(), cc = cos.contiguous(), sc = sin.contiguous();
    try {
      return runKernel1("rope", [xc, cc, sc], attrs, {
        shape: [...x.shape],
        dtype: "f32",
        overwritten: true,
      });
    } finally {
      if (xc !== x) xc.dispose();
      if (cc !== cos) cc.dispose();
      if (sc !== sin) sc.dispose();
    }
  }
  return ropeComposed(x, cos.reshape([T, 1, half]), sin.reshape([T, 1, half]), order, dims);
}

/** {@link rope} from elementwise ops (cos, sin `[T, 1, dims/2]`). */
function ropeComposed(
  x: Tensor,
  cos: Tensor,
  sin: Tensor,
  order: "normal" | "neox",
  rd: number,
): Tensor {
  const [T, H, D] = x.shape, half = rd / 2;
  let x0: Tensor, x1: Tensor;
  if (order === "normal") {
    const pairs = x.slice(null, null, `0:${rd}`).reshape([T, H, half, 2]);
    x0 = pairs.select(3, 0);
    x1 = pairs.select(3, 1);
  } else {
    x0 = x.slice(null, null, `0:${half}`);
    x1 = x.slice(null, null, `${half}:${rd}`);
  }
  const o0 = x0.mul(cos).sub(x1.mul(sin));
  const o1 = x0.mul(sin).add(x1.mul(cos));
  const rot = order === "normal" ? stack([o0, o1], 3).reshape([T, H, rd]) : concat([o0, o1], 2);
  return rd === D ? rot : concat([rot, x.slice(null, null, `${rd}:`)], 2);
}

/**
 * RMS normalization over the last axis, as ggml's `rms_norm` followed by its `mul` by the weight:
 * per row, `sum` = Σ x² (each square rounded to f32, summed in f64), `scale` = 1 / √(sum/n + eps)
 * in f32, then `(x·scale)·w` rounded to f32 after each product.
 *
 * @example
 * ```ts
 * import { tensor } from "@aprender/compute";
 * import { rmsNorm } from "@aprender/compute/internal";
 * const y = rmsNorm(tensor([[3, 4]]), tensor([1, 2]), { eps: 0 });
 * console.log(y.toArraySync()); // [[0.8485..., 2.2627...]] (3 and 4 over √12.5, then ·w)
 * ```
 */
export function rmsNorm(x: Tensor, w: Tensor, attrs: RmsNormAttrs): Tensor {
  const n = x.shape[x.ndim - 1];
  if (x.ndim < 1 || w.ndim !== 1 || w.shape[0] !== n) {
    throw new ShapeError(
      `rmsNorm: the weight must be [n] for x ${fmtShape(x.shape)} (n = its last axis), got ` +
        `${fmtShape(w.shape)}.`,
    );
  }
  if (!(attrs.eps >= 0)) {
    throw new ShapeError(`rmsNorm: eps must be ≥ 0, got ${attrs.eps}.`);
  }
  if (
    x.dtype === "f32" && w.dtype === "f32" && !needsGrad([x, w]) && hasKernel("rmsNorm", x.device)
  ) {
    const xc = x.contiguous(), wc = w.contiguous();
    try {
      return runKernel1("rmsNorm", [xc, wc], attrs, {
        shape: [...x.shape],
        dtype: "f32",
        overwritten: true,
      });
    } finally {
      if (xc !== x) xc.dispose();
      if (wc !== w) wc.dispose();
    }
  }
  return x.mul(mean(x.square(), -1, true).add(attrs.eps).rsqrt()).mul(w);
}
