/**
 * `Linear` (y = x·Wᵀ + b) and `Identity`.
 *
 * @module
 */
import type { DType } from "../core/dtype.ts";
import type { Generator } from "../core/random.ts";
import type { Tensor } from "../core/tensor.ts";
import { Module } from "./module.ts";
import { alias, linear, newParameter } from "./layer_ops.ts";
import { calculateFans, kaimingUniform, uniform } from "./init.ts";

/** Options of {@link Linear}. */
export interface LinearOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
  /** Parameter dtype (default "f32"). */
  dtype?: DType;
  /** Random source of the initial weights (default: the global generator). */
  generator?: Generator;
}

/**
 * Fully connected layer: y = x·Wᵀ + b over the last axis, PyTorch's `nn.Linear`. `weight` has
 * shape (outFeatures, inFeatures), `bias` (outFeatures,); both start as U(-1/√in, 1/√in)
 * (kaiming uniform with a = √5, as PyTorch).
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const fc = new nn.Linear(784, 256);
 * console.log(fc.call(randn([32, 784])).shape); // [32, 256]
 * console.log(fc.weight.shape, fc.bias!.shape); // [256, 784] [256]
 * ```
 */
export class Linear extends Module {
  /** Weight of shape (outFeatures, inFeatures). */
  weight: Tensor;
  /** Bias of shape (outFeatures,), or null. */
  bias: Tensor | null;
  /** Size of each input sample (the last axis). */
  readonly inFeatures: number;
  /** Size of each output sample. */
  readonly outFeatures: number;

  /**
   * @param inFeatures size of the input's last axis
   * @param outFeatures size of the output's last axis
   * @param options bias, dtype, generator
   */
  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = newParameter([outFeatures, inFeatures], options.dtype);
    this.bias = options.bias === false ? null : newParameter([outFeatures], options.dtype);
    this.resetParameters(options.generator);
  }

  /** Re-draw the initial weights (PyTorch's `reset_parameters`). */
  resetParameters(generator?: Generator): void {
    kaimingUniform(this.weight, { a: Math.sqrt(5), generator });
    if (this.bias) {
      const { fanIn } = calculateFans(this.weight);
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      uniform(this.bias, -bound, bound, { generator });
    }
  }

  /** y = x·Wᵀ + b; x has shape (*, inFeatures). */
  forward(x: Tensor): Tensor {
    return linear(
      `Linear(in=${this.inFeatures}, out=${this.outFeatures})`,
      x,
      this.weight,
      this.bias,
    );
  }

  /** `inFeatures=…, outFeatures=…, bias=…` */
  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${
      this.bias !== null
    }`;
  }
}

/**
 * Returns its input unchanged (as a new tensor object sharing the data), PyTorch's
 * `nn.Identity`: a placeholder where a layer is optional.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.Identity().call(tensor([1, 2])).toArraySync()); // [1, 2]
 * ```
 */
export class Identity extends Module {
  /** An alias of x. */
  forward(x: Tensor): Tensor {
    return alias(x);
  }
}
