/**
 * Activation modules (PyTorch's `nn.ReLU`, `nn.GELU`, ...): thin wrappers over the functional
 * forms, so they can sit in a `Sequential`.
 *
 * @module
 */
import {
  elu,
  gelu,
  hardswish,
  leakyRelu,
  mish,
  relu,
  selu,
  sigmoid,
  silu,
  softplus,
  tanh,
} from "../core/ops/elementwise.ts";
import { logSoftmax, softmax } from "../core/ops/reduce.ts";
import type { DType } from "../core/dtype.ts";
import type { Tensor } from "../core/tensor.ts";
import { Module } from "./module.ts";
import { hardsigmoid, hardtanh, logSigmoid, prelu, relu6, softsign } from "./functional.ts";
import { newParameter } from "./layer_ops.ts";
import { constant } from "./init.ts";

/**
 * `max(x, 0)`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.ReLU().call(tensor([-1, 2])).toArraySync()); // [0, 2]
 * ```
 */
export class ReLU extends Module {
  /** relu(x) */
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/**
 * `min(max(x, 0), 6)`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.ReLU6().call(tensor([-1, 8])).toArraySync()); // [0, 6]
 * ```
 */
export class ReLU6 extends Module {
  /** relu6(x) */
  forward(x: Tensor): Tensor {
    return relu6(x);
  }
}

/**
 * `x` for x ≥ 0, else `negativeSlope · x` (default slope 0.01).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.LeakyReLU(0.5).call(tensor([-2, 2])).toArraySync()); // [-1, 2]
 * ```
 */
export class LeakyReLU extends Module {
  /** @param negativeSlope slope for x < 0 */
  constructor(readonly negativeSlope: number = 0.01) {
    super();
  }
  /** leakyRelu(x) */
  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }
  /** `negativeSlope=…` */
  override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

/**
 * `x` for x > 0, else `alpha · (eˣ - 1)`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.ELU().call(tensor([2])).toArraySync()); // [2]
 * ```
 */
export class ELU extends Module {
  /** @param alpha scale of the negative part */
  constructor(readonly alpha: number = 1) {
    super();
  }
  /** elu(x) */
  forward(x: Tensor): Tensor {
    return elu(x, this.alpha);
  }
  /** `alpha=…` */
  override extraRepr(): string {
    return `alpha=${this.alpha}`;
  }
}

/**
 * Scaled ELU with PyTorch's constants.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.SELU().call(tensor([0])).toArraySync()); // [0]
 * ```
 */
export class SELU extends Module {
  /** selu(x) */
  forward(x: Tensor): Tensor {
    return selu(x);
  }
}

/**
 * Gaussian error linear unit, exact (`x·Φ(x)`, default) or with the tanh approximation.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.GELU().call(tensor([0])).toArraySync()); // [0]
 * ```
 */
export class GELU extends Module {
  /** @param approximate "none" (default) or "tanh" */
  constructor(readonly approximate: "none" | "tanh" = "none") {
    super();
  }
  /** gelu(x) */
  forward(x: Tensor): Tensor {
    return gelu(x, this.approximate);
  }
  /** `approximate=…` */
  override extraRepr(): string {
    return `approximate=${JSON.stringify(this.approximate)}`;
  }
}

/**
 * `x · sigmoid(x)` (swish).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.SiLU().call(tensor([0])).toArraySync()); // [0]
 * ```
 */
export class SiLU extends Module {
  /** silu(x) */
  forward(x: Tensor): Tensor {
    return silu(x);
  }
}

/**
 * `x · tanh(softplus(x))`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.Mish().call(tensor([0])).toArraySync()); // [0]
 * ```
 */
export class Mish extends Module {
  /** mish(x) */
  forward(x: Tensor): Tensor {
    return mish(x);
  }
}

/**
 * `1 / (1 + e⁻ˣ)`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.Sigmoid().call(tensor([0])).toArraySync()); // [0.5]
 * ```
 */
export class Sigmoid extends Module {
  /** sigmoid(x) */
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/**
 * Hyperbolic tangent.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.Tanh().call(tensor([0])).toArraySync()); // [0]
 * ```
 */
export class Tanh extends Module {
  /** tanh(x) */
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

/**
 * `clip(x, minVal, maxVal)` (default [-1, 1]).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.Hardtanh().call(tensor([-3, 3])).toArraySync()); // [-1, 1]
 * ```
 */
export class Hardtanh extends Module {
  /**
   * @param minVal lower bound
   * @param maxVal upper bound
   */
  constructor(readonly minVal: number = -1, readonly maxVal: number = 1) {
    super();
  }
  /** hardtanh(x) */
  forward(x: Tensor): Tensor {
    return hardtanh(x, this.minVal, this.maxVal);
  }
  /** `minVal=…, maxVal=…` */
  override extraRepr(): string {
    return `minVal=${this.minVal}, maxVal=${this.maxVal}`;
  }
}

/**
 * `clip(x/6 + 1/2, 0, 1)`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.Hardsigmoid().call(tensor([0])).toArraySync()); // [0.5]
 * ```
 */
export class Hardsigmoid extends Module {
  /** hardsigmoid(x) */
  forward(x: Tensor): Tensor {
    return hardsigmoid(x);
  }
}

/**
 * `x · hardsigmoid(x)`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.Hardswish().call(tensor([3])).toArraySync()); // [3]
 * ```
 */
export class Hardswish extends Module {
  /** hardswish(x) */
  forward(x: Tensor): Tensor {
    return hardswish(x);
  }
}

/**
 * `log(1 + e^(beta·x)) / beta`, linear above `threshold`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.Softplus().call(tensor([30])).toArraySync()); // [30]
 * ```
 */
export class Softplus extends Module {
  /**
   * @param beta sharpness
   * @param threshold above beta·x > threshold the output is x
   */
  constructor(readonly beta: number = 1, readonly threshold: number = 20) {
    super();
  }
  /** softplus(x) */
  forward(x: Tensor): Tensor {
    return softplus(x, this.beta, this.threshold);
  }
  /** `beta=…, threshold=…` */
  override extraRepr(): string {
    return `beta=${this.beta}, threshold=${this.threshold}`;
  }
}

/**
 * `x / (1 + |x|)`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.Softsign().call(tensor([1])).toArraySync()); // [0.5]
 * ```
 */
export class Softsign extends Module {
  /** softsign(x) */
  forward(x: Tensor): Tensor {
    return softsign(x);
  }
}

/**
 * `log(sigmoid(x))`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.LogSigmoid().call(tensor([0])).toArraySync()); // [-0.6931471824645996]
 * ```
 */
export class LogSigmoid extends Module {
  /** logSigmoid(x) */
  forward(x: Tensor): Tensor {
    return logSigmoid(x);
  }
}

/**
 * Softmax along `dim` (default the last axis).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.Softmax(-1).call(tensor([0, 0])).toArraySync()); // [0.5, 0.5]
 * ```
 */
export class Softmax extends Module {
  /** @param dim the axis that sums to 1 */
  constructor(readonly dim: number = -1) {
    super();
  }
  /** softmax(x, dim) */
  forward(x: Tensor): Tensor {
    return softmax(x, this.dim);
  }
  /** `dim=…` */
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/**
 * Log-softmax along `dim` (default the last axis).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.LogSoftmax().call(tensor([0, 0])).toArraySync());
 * // [-0.6931471824645996, -0.6931471824645996]
 * ```
 */
export class LogSoftmax extends Module {
  /** @param dim the axis normalized over */
  constructor(readonly dim: number = -1) {
    super();
  }
  /** logSoftmax(x, dim) */
  forward(x: Tensor): Tensor {
    return logSoftmax(x, this.dim);
  }
  /** `dim=…` */
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/** Options of {@link PReLU}. */
export interface PReLUOptions {
  /** Initial slope (default 0.25). */
  init?: number;
  /** Parameter dtype (default "f32"). */
  dtype?: DType;
}

/**
 * Parametric ReLU with a learned slope for x < 0: one slope (default) or one per channel
 * (axis 1), PyTorch's `nn.PReLU`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.PReLU().call(tensor([-4, 4])).toArraySync()); // [-1, 4]
 * ```
 */
export class PReLU extends Module {
  /** Slopes of shape (numParameters,). */
  weight: Tensor;
  /**
   * @param numParameters 1, or the number of channels
   * @param options init, dtype
   */
  constructor(readonly numParameters: number = 1, options: PReLUOptions = {}) {
    super();
    this.weight = constant(newParameter([numParameters], options.dtype), options.init ?? 0.25);
  }
  /** prelu(x, weight) */
  forward(x: Tensor): Tensor {
    return prelu(x, this.weight);
  }
  /** `numParameters=…` */
  override extraRepr(): string {
    return `numParameters=${this.numParameters}`;
  }
}
