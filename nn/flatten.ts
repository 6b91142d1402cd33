/**
 * `Flatten` and `Unflatten`.
 *
 * @module
 */
import { fmtShape, ShapeError } from "../core/errors.ts";
import { normalizeAxis } from "../core/shape.ts";
import { flatten, reshape } from "../core/ops/view.ts";
import type { Tensor } from "../core/tensor.ts";
import { Module } from "./module.ts";

/**
 * Flatten axes `startDim..endDim` into one (default: all but the batch axis), PyTorch's
 * `nn.Flatten`.
 *
 * @example
 * ```ts
 * import { nn, zeros } from "@aprender/compute";
 * console.log(new nn.Flatten().call(zeros([2, 3, 4, 4])).shape); // [2, 48]
 * ```
 */
export class Flatten extends Module {
  /** First axis flattened. */
  readonly startDim: number;
  /** Last axis flattened. */
  readonly endDim: number;

  /**
   * @param startDim first axis (default 1)
   * @param endDim last axis (default -1)
   */
  constructor(startDim = 1, endDim = -1) {
    super();
    this.startDim = startDim;
    this.endDim = endDim;
  }

  /** The flattened view (a copy only if the layout needs one). */
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }

  /** `startDim=…, endDim=…` */
  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}

/**
 * Split axis `dim` into `sizes`, PyTorch's `nn.Unflatten`.
 *
 * @example
 * ```ts
 * import { nn, zeros } from "@aprender/compute";
 * console.log(new nn.Unflatten(1, [3, 4]).call(zeros([2, 12])).shape); // [2, 3, 4]
 * ```
 */
export class Unflatten extends Module {
  /** The axis split. */
  readonly dim: number;
  /** Its new lengths (one may be -1). */
  readonly sizes: readonly number[];

  /**
   * @param dim the axis
   * @param sizes the lengths it becomes
   */
  constructor(dim: number, sizes: readonly number[]) {
    super();
    this.dim = dim;
    this.sizes = [...sizes];
  }

  /** The reshaped view. */
  forward(x: Tensor): Tensor {
    const label = `Unflatten(${this.dim}, ${fmtShape(this.sizes)})`;
    if (x.ndim === 0) {
      throw new ShapeError(`${label}: input is a scalar; expected at least 1 axis.`);
    }
    const d = normalizeAxis(this.dim, x.ndim, label);
    const known = this.sizes.filter((s) => s !== -1).reduce((a, b) => a * b, 1);
    const inferred = this.sizes.includes(-1);
    if (inferred ? x.shape[d] % known !== 0 : known !== x.shape[d]) {
      throw new ShapeError(
        `${label}: axis ${d} of the input (shape ${fmtShape(x.shape)}) has length ` +
          `${x.shape[d]}, which cannot be split into ${fmtShape(this.sizes)}.`,
      );
    }
    return reshape(x, [...x.shape.slice(0, d), ...this.sizes, ...x.shape.slice(d + 1)]);
  }

  /** `dim=…, sizes=…` */
  override extraRepr(): string {
    return `dim=${this.dim}, sizes=${fmtShape(this.sizes)}`;
  }
}
