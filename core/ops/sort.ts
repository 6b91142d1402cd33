/**
 * Sorting along an axis: sort, argsort (stable, NaN last like NumPy) and topk (PyTorch).
 *
 * @module
 */
import { fmtShape, IndexError } from "../errors.ts";
import { runKernel, runKernel1 } from "../op.ts";
import { normalizeAxis } from "../shape.ts";
import type { Tensor, TensorLike } from "../tensor.ts";
import { asTensor } from "./creation.ts";

function withTensor<T>(x: TensorLike, f: (t: Tensor) => T): T {
  const t = asTensor(x);
  try {
    return f(t);
  } finally {
    if (t !== x) t.dispose();
  }
}

/**
 * The elements sorted along `axis` (default the last), ascending unless `descending`. Stable:
 * equal elements keep their order. NaN sorts last ascending (NumPy) and first descending
 * (PyTorch, where NaN counts as the largest). Keeps the dtype.
 *
 * @example
 * ```ts
 * import { sort, tensor } from "@aprender/compute";
 * const a = tensor([[3, 1, 2], [NaN, 0, -1]]);
 * console.log(sort(a).toArraySync()); // [[1, 2, 3], [-1, 0, NaN]]
 * console.log(sort(a, 0, true).toArraySync()); // [[NaN, 1, 2], [3, 0, -1]]
 * ```
 */
export function sort(x: TensorLike, axis = -1, descending = false): Tensor {
  return withTensor(x, (t) => {
    const a = normalizeAxis(axis, t.ndim, "sort");
    return runKernel1("sort", [t], { axis: a, descending }, {
      shape: [...t.shape],
      dtype: t.dtype,
    });
  });
}

/**
 * Indices (i64) that sort `x` along `axis` (default the last): a stable sort like NumPy's
 * `kind="stable"`, ties in original order, NaN last ascending and first descending.
 *
 * @example
 * ```ts
 * import { argsort, tensor } from "@aprender/compute";
 * console.log(argsort(tensor([3, 1, 2, 1])).toArraySync()); // [1, 3, 2, 0]
 * console.log(argsort(tensor([3, 1, 2, 1]), -1, true).toArraySync()); // [0, 2, 1, 3]
 * ```
 */
export function argsort(x: TensorLike, axis = -1, descending = false): Tensor {
  return withTensor(x, (t) => {
    const a = normalizeAxis(axis, t.ndim, "argsort");
    return runKernel1("argsort", [t], { axis: a, descending }, {
      shape: [...t.shape],
      dtype: "i64",
    });
  });
}

/** Options of {@link topk}. */
export interface TopkOptions {
  /** Axis to select along (default -1). */
  axis?: number;
  /** The k largest (default) or the k smallest. */
  largest?: boolean;
  /**
   * Return them in sorted order (default true). With false the order is unspecified, as in
   * PyTorch; this implementation still returns them sorted.
   */
  sorted?: boolean;
}

/**
 * The `k` largest (or smallest) elements along an axis and their indices (i64), like PyTorch's
 * `torch.topk`: returns `[values, indices]`, largest first (smallest first when
 * `largest: false`). Ties go to the lower index; NaN counts as the largest value.
 *
 * @example
 * ```ts
 * import { tensor, topk } from "@aprender/compute";
 * const [v, i] = topk(tensor([1, 5, 3, 5, 2]), 3);
 * console.log(v.toArraySync(), i.toArraySync()); // [5, 5, 3] [1, 3, 2]
 * ```
 */
export function topk(x: TensorLike, k: number, options: TopkOptions = {}): [Tensor, Tensor] {
  return withTensor(x, (t) => {
    const a = normalizeAxis(options.axis ?? -1, t.ndim, "topk");
    const n = t.shape[a];
    if (!Number.isInteger(k) || k < 0 || k > n) {
      throw new IndexError(
        `topk: k=${k} is out of range for axis ${a} of length ${n} (shape ${fmtShape(t.shape)}); ` +
          `k must be an integer in 0..${n}.`,
      );
    }
    const shape = t.shape.map((d, i) => (i === a ? k : d));
    const [values, indices] = runKernel(
      "topk",
      [t],
      { axis: a, descending: options.largest ?? true, k },
      [{ shape, dtype: t.dtype }, { shape, dtype: "i64" }],
    );
    return [values, indices];
  });
}
