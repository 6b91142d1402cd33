/**
 * `quantLinear`: the product `x · wᵀ` of f32 activations with a weight matrix kept in its storage
 * type — f32, f16, bf16 or a GGUF block type (Q4_0, Q8_0, Q4_K, Q6_K, ...) — without converting
 * the weights first. It is the LLM engine's matvec (decode) and matmul (prefill).
 *
 * Kernel contract (name `"quantLinear"`, attributes {@link QuantLinearAttrs}): inputs `x` (f32,
 * contiguous, `[m, k]`) and `w` (contiguous `[n, k]`, rows of whole blocks); output f32 `[m, n]`
 * that the kernel overwrites. The scalar backend's kernel (backends/scalar/kernels/quant_linear.ts)
 * is the reference: rows decoded with core/quant, dots in float64. A plugin adds a faster kernel
 * by registering the same name (declining with `supports` the types it lacks).
 *
 * @module
 */
import type { QuantLinearAttrs } from "../backend/attrs.ts";
import { isBlockDType, type StorageDType } from "../dtype.ts";
import { DTypeError, fmtShape, ShapeError } from "../errors.ts";
import { runKernel1 } from "../op.ts";
import type { Tensor } from "../tensor.ts";
import { reshape } from "./view.ts";

export type { QuantLinearAttrs };

/** Options of {@link quantLinear}. */
export interface QuantLinearOptions {
  /**
   * How activations enter the dot products: `"f32"` (default) as they are; `"ggml"` rounded
   * first to the type llama.cpp's CPU path pairs with the weight type (Q8_0 for Q4_0/Q8_0, Q8_K
   * for K-quants, f16 for f16 weights, ...), to reproduce llama.cpp's numbers.
   */
  activations?: "f32" | "ggml";
}

const WEIGHT_ELEMENT_TYPES = new Set(["f32", "f16", "bf16"]);

/**
 * `x · wᵀ` for f32 `x` of shape `[..., k]` and a weight `w` of shape `[n, k]` stored as f32,
 * f16, bf16 or any block-quantized type; returns f32 `[..., n]`.
 *
 * @example
 * ```ts
 * import { quantLinear, tensor } from "@aprender/compute";
 * const w = tensor([[1, 2], [3, 4], [5, 6]]); // [n = 3, k = 2]
 * console.log(quantLinear(tensor([[1, 1]]), w).toArraySync()); // [[3, 7, 11]]
 * ```
 */
export function quantLinear(
  x: Tensor,
  w: Tensor<StorageDType>,
  options: QuantLinearOptions = {},
): Tensor {
  if (w.ndim !== 2) {
    throw new ShapeError(
      `quantLinear: the weight must be 2-D [out, in], got shape ${fmtShape(w.shape)}. ` +
        `Hint: GGUF linear weights are [out, in] in row-major order.`,
    );
  }
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== w.shape[1]) {
    throw new ShapeError(
      `quantLinear: x ${fmtShape(x.shape)} and weight ${fmtShape(w.shape)} disagree on the ` +
        `inner size (${x.shape[x.ndim - 1]} ≠ ${w.shape[1]}). Hint: the weight is [out, in].`,
    );
  }
  if (x.dtype !== "f32") {
    throw new DTypeError(
      `quantLinear: activations must be f32, got ${x.dtype}. Hint: x.astype("f32").`,
    );
  }
  if (!isBlockDType(w.dtype) && !WEIGHT_ELEMENT_TYPES.has(w.dtype)) {
    throw new DTypeError(
      `quantLinear: weight dtype ${w.dtype} is not supported; expected f32, f16, bf16 or a ` +
        `block-quantized type. Hint: w.astype("f32").`,
    );
  }
  if (!w.isContiguous) {
    throw new ShapeError(
      `quantLinear: the weight (shape ${fmtShape(w.shape)}) must be contiguous. Hint: ` +
        `w.contiguous(), or pass the weight as stored rather than a transposed view.`,
    );
  }
  const k = w.shape[1], n = w.shape[0];
  const lead = x.shape.slice(0, -1);
  const m = lead.reduce((a, b) => a * b, 1);
  const attrs: QuantLinearAttrs = { activations: options.activations ?? "f32" };
  const x2 = reshape(x, [m, k]);
  try {
    const y = runKernel1("quantLinear", [x2, w], attrs, {
      shape: [m, n],
      dtype: "f32",
      overwritten: true,
    });
    if (lead.length === 1) return y;
    const out = reshape(y, [...lead, n]);
    y.dispose();
    return out;
  } finally {
    x2.dispose();
  }
}
