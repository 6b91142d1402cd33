/**
 * Elementwise activations (PyTorch's formulas and defaults): sigmoid, relu, leakyRelu, elu, selu,
 * gelu, silu, mish, hardswish, softplus; and clip.
 *
 * @module
 */
import { checkDType } from "../dtype.ts";
import { promoteTypes, scalarPromote } from "../promote.ts";
import { ComputeError } from "../errors.ts";
import { runKernel1 } from "../op.ts";
import type { Tensor, TensorLike } from "../tensor.ts";
import { asTensor } from "./creation.ts";
import { unary } from "./elementwise_rules.ts";

/**
 * The logistic function `1 / (1 + e^-x)`, without overflow for large |x|.
 *
 * @example
 * ```ts
 * import { sigmoid, tensor } from "@aprender/compute";
 * console.log(sigmoid(tensor([0, -Infinity])).toArraySync()); // [0.5, 0]
 * ```
 */
export function sigmoid(x: TensorLike): Tensor {
  return unary("sigmoid", x);
}

/**
 * `max(x, 0)` (NaN propagates). Integer input gives a float dtype, like every activation.
 *
 * @example
 * ```ts
 * import { relu, tensor } from "@aprender/compute";
 * console.log(relu(tensor([-1, 2])).toArraySync()); // [0, 2]
 * ```
 */
export function relu(x: TensorLike): Tensor {
  return unary("relu", x);
}

/**
 * `x` where `x >= 0`, else `negativeSlope * x` (PyTorch's `leaky_relu`).
 *
 * @example
 * ```ts
 * import { leakyRelu, tensor } from "@aprender/compute";
 * console.log(leakyRelu(tensor([-2, 3]), 0.5).toArraySync()); // [-1, 3]
 * ```
 */
export function leakyRelu(x: TensorLike, negativeSlope = 0.01): Tensor {
  return unary("leakyRelu", x, { negativeSlope });
}

/**
 * `x` where `x > 0`, else `alpha * (e^x - 1)` (PyTorch's `elu`).
 *
 * @example
 * ```ts
 * import { elu, tensor } from "@aprender/compute";
 * console.log(elu(tensor([-Infinity, 2])).toArraySync()); // [-1, 2]
 * ```
 */
export function elu(x: TensorLike, alpha = 1): Tensor {
  return unary("elu", x, { alpha });
}

/**
 * Scaled ELU: `scale * elu(x, alpha)` with PyTorch's constants (alpha ≈ 1.6733, scale ≈ 1.0507).
 *
 * @example
 * ```ts
 * import { selu, tensor } from "@aprender/compute";
 * console.log(selu(tensor([0, 1], { dtype: "f64" })).toArraySync()); // [0, 1.0507009873554805]
 * ```
 */
export function selu(x: TensorLike): Tensor {
  return unary("selu", x);
}

/**
 * Gaussian error linear unit: `0.5·x·(1 + erf(x/√2))`, or with `approximate: "tanh"`
 * `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (PyTorch's `gelu`).
 *
 * @example
 * ```ts
 * import { gelu, tensor } from "@aprender/compute";
 * console.log(gelu(tensor([0, 10])).toArraySync()); // [0, 10]
 * console.log(gelu(tensor([1], { dtype: "f64" }), "tanh").toArraySync()); // [0.8411919906082768]
 * ```
 */
export function gelu(x: TensorLike, approximate: "none" | "tanh" = "none"): Tensor {
  if (approximate !== "none" && approximate !== "tanh") {
    throw new ComputeError(
      `gelu: approximate must be "none" or "tanh", got ${JSON.stringify(approximate)}.`,
    );
  }
  return unary("gelu", x, { approximate });
}

/**
 * Sigmoid linear unit (swish): `x * sigmoid(x)`.
 *
 * @example
 * ```ts
 * import { silu, tensor } from "@aprender/compute";
 * console.log(silu(tensor([0, 1], { dtype: "f64" })).toArraySync()); // [0, 0.7310585786300049]
 * ```
 */
export function silu(x: TensorLike): Tensor {
  return unary("silu", x);
}

/**
 * Mish: `x * tanh(softplus(x))`.
 *
 * @example
 * ```ts
 * import { mish, tensor } from "@aprender/compute";
 * console.log(mish(tensor([0, 1], { dtype: "f64" })).toArraySync()); // [0, 0.8650983882673103]
 * ```
 */
export function mish(x: TensorLike): Tensor {
  return unary("mish", x);
}

/**
 * Hard swish: `x * relu6(x + 3) / 6`.
 *
 * @example
 * ```ts
 * import { hardswish, tensor } from "@aprender/compute";
 * console.log(hardswish(tensor([-4, 0, 1, 4])).toArraySync()); // [-0, 0, 0.6666666865348816, 4]
 * ```
 */
export function hardswish(x: TensorLike): Tensor {
  return unary("hardswish", x);
}

/**
 * `log(1 + e^(beta·x)) / beta`, and `x` itself where `beta·x > threshold` (PyTorch's
 * `softplus`).
 *
 * @example
 * ```ts
 * import { softplus, tensor } from "@aprender/compute";
 * console.log(softplus(tensor([0, 30], { dtype: "f64" })).toArraySync()); // [0.6931471805599453, 30]
 * ```
 */
export function softplus(x: TensorLike, beta = 1, threshold = 20): Tensor {
  return unary("softplus", x, { beta, threshold });
}

/**
 * Limit values to `[min, max]` (either bound may be null); NaN stays NaN. The bounds are weak
 * scalars: an integer tensor stays integer for integer bounds.
 *
 * @example
 * ```ts
 * import { clip, tensor } from "@aprender/compute";
 * console.log(clip(tensor([-2, 0.5, 3]), 0, 1).toArraySync()); // [0, 0.5, 1]
 * console.log(clip(tensor([-2, 3]), null, 1).toArraySync()); // [-2, 1]
 * ```
 */
export function clip(x: TensorLike, min: number | null, max: number | null): Tensor {
  const t = asTensor(x);
  try {
    checkDType(t.dtype, "clip");
    let dtype = t.dtype;
    for (const bound of [min, max]) {
      if (bound !== null) dtype = promoteTypes(dtype, scalarPromote(t.dtype, bound));
    }
    return runKernel1("clip", [t], { min: min ?? -Infinity, max: max ?? Infinity }, {
      shape: t.shape,
      dtype,
    });
  } finally {
    if (t !== x) t.dispose();
  }
}
