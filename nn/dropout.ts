/**
 * `Dropout`.
 *
 * @module
 */
import type { Generator } from "../core/random.ts";
import type { Tensor } from "../core/tensor.ts";
import { Module } from "./module.ts";
import { checkProbability, dropout } from "./layer_ops.ts";

/** Options of {@link Dropout}. */
export interface DropoutOptions {
  /** Random source of the masks (default: the global generator, see `seed()`). */
  generator?: Generator;
}

/**
 * Inverted dropout, PyTorch's `nn.Dropout`: in training, zero each element with probability `p`
 * (default 0.5) and scale the others by 1/(1-p); in eval mode, the identity. Masks come from
 * the global generator (`seed(n)` makes them reproducible) or `options.generator`.
 *
 * @example
 * ```ts
 * import { nn, ones } from "@aprender/compute";
 * const d = new nn.Dropout(0.5);
 * const y = d.call(ones([8]));
 * console.log(y.toArraySync()); // each element 0 or 2
 * d.eval();
 * console.log(d.call(ones([2])).toArraySync()); // [1, 1]
 * ```
 */
export class Dropout extends Module {
  /** Probability of zeroing an element. */
  readonly p: number;
  #generator?: Generator;

  /**
   * @param p probability of zeroing an element, in [0, 1]
   * @param options generator
   */
  constructor(p = 0.5, options: DropoutOptions = {}) {
    super();
    this.p = p;
    this.#generator = options.generator;
    checkProbability("Dropout", p);
  }

  /** Dropout in training mode, an alias of x in eval mode. */
  forward(x: Tensor): Tensor {
    return dropout(`Dropout(p=${this.p})`, x, this.p, this.training, this.#generator);
  }

  /** `p=…` */
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}
