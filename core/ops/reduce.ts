/**
 * Reductions (sum, mean, var, std, min, max, prod, argmin, argmax, any, all, logsumexp, norm),
 * scans (cumsum, cumprod) and the softmax family, with NumPy's axes, keepdims and result dtypes.
 *
 * Result dtypes follow NumPy on Linux: sums and products of bool and integers are i64 (NumPy
 * gives uint64 for unsigned inputs, which we do not have), mean/var/std of integers are f64,
 * floats keep their dtype (f16 included, accumulated in float64 and rounded once), min/max keep
 * the input dtype, argmin/argmax are i64, any/all are bool. The scalar kernels compute i64 data in
 * float64 (exact up to 2^53), except integer products, which are exact and wrap like NumPy's.
 *
 * @module
 */
import { checkDType, type DType, DTYPES } from "../dtype.ts";
import { withF32 } from "../autocast.ts";
import { floatResult } from "../promote.ts";
import { ArgumentError, fmtShape, ShapeError } from "../errors.ts";
import { runKernel1 } from "../op.ts";
import type { ReduceAttrs, ReduceOp } from "./contracts/mod.ts";
import { checkOptions, describeArg, normalizeAxes, normalizeAxis } from "../shape.ts";
import type { Axis, Tensor, TensorLike } from "../tensor.ts";
import { asTensor } from "./creation.ts";
import { reshape } from "./view.ts";

/** Options of {@link variance} and {@link std}. */
export interface VarOptions {
  /** Delta degrees of freedom: the divisor is N - ddof (default 0, like NumPy). */
  ddof?: number;
  /** Keep reduced axes with length 1. */
  keepdims?: boolean;
}

/** Run `f` on `x` as a tensor, disposing the tensor made from a non-tensor argument. */
function withTensor<T>(x: TensorLike, f: (t: Tensor) => T): T {
  const t = asTensor(x);
  try {
    return f(t);
  } finally {
    if (t !== x) t.dispose();
  }
}

/** Dtype of sum/prod/cumsum/cumprod: bool and integers accumulate in i64 (NumPy on Linux). */
function accumulateDType(d: DType): DType {
  return DTYPES[d].kind === "float" ? d : "i64";
}

/** Dtype of mean/var/std/norm/logsumexp: floats keep theirs, the rest give f64. */
function statDType(d: DType): DType {
  return DTYPES[d].kind === "float" ? d : "f64";
}

function reducedShape(shape: readonly number[], axes: readonly number[], keepdims: boolean) {
  const out: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (!axes.includes(i)) out.push(shape[i]);
    else if (keepdims) out.push(1);
  }
  return out;
}

/** Throw NumPy's "zero-size array to reduction" error when the reduced sub-space is empty. */
function checkNonEmpty(op: string, t: Tensor, axes: readonly number[]): void {
  if (axes.some((a) => t.shape[a] === 0)) {
    throw new ShapeError(
      `${op}: cannot reduce a tensor of shape ${fmtShape(t.shape)} over ${
        axes.length === t.ndim ? "all axes" : `axes [${axes.join(", ")}]`
      }: the reduced part is empty and ${op} has no identity. Hint: reduce over a non-empty ` +
        `axis, or check the size first.`,
    );
  }
}

/** Reduce normalized `axes` of `t` with kernel `kernel`. */
function reduceAxes(
  kernel: ReduceOp,
  t: Tensor,
  axes: readonly number[],
  keepdims: boolean,
  dtype: DType,
  attrs: Omit<ReduceAttrs, "axes"> = {},
): Tensor {
  if (typeof keepdims !== "boolean") {
    // t.mean(0, { ddof: 1 }) used to pass an options object here and have it ignored.
    throw new ArgumentError(
      `${kernel}: keepdims (the argument after the axis) must be a boolean, got ` +
        `${describeArg(keepdims)}. Hint: ${kernel}(x, axis?, keepdims?)` +
        (kernel === "var" || kernel === "std" ? "." : "; only var/std take { ddof }."),
    );
  }
  return runKernel1(kernel, [t], { axes: [...axes], ...attrs }, {
    shape: reducedShape(t.shape, axes, keepdims),
    dtype,
  });
}

function reduceOp(
  op: ReduceOp,
  x: TensorLike,
  axis: Axis,
  keepdims: boolean,
  dtype: (d: DType) => DType,
  opts: { nonEmpty?: boolean; attrs?: Omit<ReduceAttrs, "axes"> } = {},
): Tensor {
  return withTensor(x, (t) => {
    checkDType(t.dtype, op); // a block-quantized operand is refused here, by name
    const axes = normalizeAxes(axis, t.ndim, op);
    if (opts.nonEmpty) checkNonEmpty(op, t, axes);
    return reduceAxes(op, t, axes, keepdims, dtype(t.dtype), opts.attrs);
  });
}

/**
 * Sum of elements over `axis` (a number, a list, or all axes when omitted). Bool and integer
 * inputs sum to i64; floats keep their dtype and are accumulated in float64 (f64 with Neumaier
 * compensation). The sum of nothing is 0.
 *
 * @example
 * ```ts
 * import { sum, tensor } from "@aprender/compute";
 * const a = tensor([[1, 2, 3], [4, 5, 6]]);
 * console.log(sum(a).item()); // 21
 * console.log(sum(a, 0).toArraySync()); // [5, 7, 9]
 * console.log(sum(a, -1, true).toArraySync()); // [[6], [15]]
 * ```
 */
export function sum(x: TensorLike, axis?: Axis, keepdims = false): Tensor {
  return reduceOp("sum", x, axis, keepdims, accumulateDType);
}

/**
 * Arithmetic mean over `axis`. Integer and bool inputs give f64; floats keep their dtype. The mean
 * of nothing is NaN (like NumPy).
 *
 * @example
 * ```ts
 * import { mean, tensor } from "@aprender/compute";
 * console.log(mean(tensor([[1, 2], [3, 5]]), 1).toArraySync()); // [1.5, 4]
 * ```
 */
export function mean(x: TensorLike, axis?: Axis, keepdims = false): Tensor {
  return reduceOp("mean", x, axis, keepdims, statDType);
}

/**
 * Variance over `axis`: mean of squared deviations divided by N - ddof (`ddof` default 0, like
 * NumPy; a divisor ≤ 0 gives inf or NaN like NumPy). Integer and bool inputs give f64. Also the
 * `t.var()` method.
 *
 * @example
 * ```ts
 * import { tensor, variance } from "@aprender/compute";
 * const a = tensor([1, 2, 3, 4]);
 * console.log(variance(a).item()); // 1.25
 * console.log(variance(a, 0, { ddof: 1 }).item()); // 1.6666666269302368
 * ```
 */
export function variance(
  x: TensorLike,
  axis?: Axis | VarCallOptions,
  options?: VarOptions | boolean,
  keepdim?: boolean,
): Tensor {
  const a = varArgs("var", axis, options, keepdim);
  return reduceOp("var", x, a.axis, a.keepdims, statDType, { attrs: { ddof: a.ddof } });
}

/** {@link VarOptions} with the axis in it (NumPy's keyword style: `{ axis: 0, ddof: 1 }`). */
export interface VarCallOptions extends VarOptions {
  /** The axes to reduce (default all). */
  axis?: Axis;
}

/**
 * The forms `var`/`std` accept, each unambiguous: `(axis, { ddof, keepdims })` (NumPy's),
 * `({ axis, ddof, keepdims })` (NumPy's keywords), and PyTorch's `(dim, unbiased, keepdim)` with
 * booleans. Anything else is an ArgumentError listing these forms.
 */
function varArgs(
  op: string,
  axis: Axis | VarCallOptions | undefined,
  options: VarOptions | boolean | undefined,
  keepdim: boolean | undefined,
): { axis: Axis; keepdims: boolean; ddof: number } {
  const forms = `${op}(axis?, { ddof?, keepdims? }), ${op}({ axis?, ddof?, keepdims? }) or ` +
    `PyTorch's ${op}(dim, unbiased: boolean, keepdim?: boolean)`;
  const bad = (what: string): never => {
    throw new ArgumentError(`${op}: ${what}. The accepted forms are ${forms}.`);
  };
  let o: VarCallOptions;
  if (axis !== null && typeof axis === "object" && !Array.isArray(axis)) {
    if (options !== undefined || keepdim !== undefined) {
      bad("an options object first takes no further arguments");
    }
    checkOptions(op, axis, ["axis", "ddof", "keepdims"]);
    o = axis as VarCallOptions;
  } else if (typeof options === "boolean") {
    if (keepdim !== undefined && typeof keepdim !== "boolean") {
      bad(`after unbiased (a boolean) comes keepdim, a boolean; got ${describeArg(keepdim)}`);
    }
    o = { axis: axis as Axis, ddof: options ? 1 : 0, keepdims: keepdim ?? false };
  } else {
    if (keepdim !== undefined) {
      bad(`a third argument (${describeArg(keepdim)}) has no meaning here`);
    }
    checkOptions(op, options, ["ddof", "keepdims"]);
    o = { ...options, axis: axis as Axis };
  }
  const ddof = o.ddof ?? 0;
  if (typeof ddof !== "number" || !Number.isFinite(ddof)) bad(`ddof must be a number, got ${ddof}`);
  if (o.keepdims !== undefined && typeof o.keepdims !== "boolean") {
    bad(`keepdims must be a boolean, got ${describeArg(o.keepdims)}`);
  }
  return { axis: o.axis, keepdims: o.keepdims ?? false, ddof };
}

/**
 * Standard deviation over `axis`: the square root of {@link variance} (same options and dtypes).
 *
 * @example
 * ```ts
 * import { std, tensor } from "@aprender/compute";
 * console.log(std(tensor([2, 4, 4, 4, 5, 5, 7, 9])).item()); // 2
 * ```
 */
export function std(
  x: TensorLike,
  axis?: Axis | VarCallOptions,
  options?: VarOptions | boolean,
  keepdim?: boolean,
): Tensor {
  const a = varArgs("std", axis, options, keepdim);
  return reduceOp("std", x, a.axis, a.keepdims, statDType, { attrs: { ddof: a.ddof } });
}

/**
 * Minimum over `axis`, keeping the dtype. NaN wins (propagates) like NumPy. Reducing an empty
 * axis throws a ShapeError (NumPy's ValueError: no identity).
 *
 * @example
 * ```ts
 * import { min, tensor } from "@aprender/compute";
 * console.log(min(tensor([[3, 1], [2, 5]]), 0).toArraySync()); // [2, 1]
 * ```
 */
export function min(x: TensorLike, axis?: Axis, keepdims = false): Tensor {
  return reduceOp("min", x, axis, keepdims, (d) => d, { nonEmpty: true });
}

/**
 * Maximum over `axis`, keeping the dtype. NaN wins (propagates) like NumPy. Reducing an empty
 * axis throws a ShapeError.
 *
 * @example
 * ```ts
 * import { max, tensor } from "@aprender/compute";
 * console.log(max(tensor([[3, 1], [2, 5]])).item()); // 5
 * ```
 */
export function max(x: TensorLike, axis?: Axis, keepdims = false): Tensor {
  return reduceOp("max", x, axis, keepdims, (d) => d, { nonEmpty: true });
}

/**
 * Product of elements over `axis`. Bool and integer inputs give i64 (wrapping modulo 2^64 on
 * overflow, like NumPy); floats keep their dtype. The product of nothing is 1.
 *
 * @example
 * ```ts
 * import { prod, tensor } from "@aprender/compute";
 * console.log(prod(tensor([[1, 2], [3, 4]]), 1).toArraySync()); // [2, 12]
 * ```
 */
export function prod(x: TensorLike, axis?: Axis, keepdims = false): Tensor {
  return reduceOp("prod", x, axis, keepdims, accumulateDType);
}

function argReduce(
  op: "argmin" | "argmax",
  x: TensorLike,
  axis: number | null | undefined,
  keepdims: boolean,
): Tensor {
  return withTensor(x, (t) => {
    const axes = axis === undefined || axis === null
      ? [...t.shape.keys()]
      : [normalizeAxis(axis, t.ndim, op)];
    if (axes.some((a) => t.shape[a] === 0)) {
      throw new ShapeError(
        `${op}: attempt to get ${op} of an empty sequence (shape ${fmtShape(t.shape)}, ` +
          `axis ${axis ?? "None"}). Hint: check the size, or reduce over a non-empty axis.`,
      );
    }
    return reduceAxes(op, t, axes, keepdims, "i64");
  });
}

/**
 * Index of the minimum along `axis` (over the flattened array when omitted, like NumPy), as i64.
 * Ties give the first occurrence; a NaN wins over numbers (the first NaN's index).
 *
 * @example
 * ```ts
 * import { argmin, tensor } from "@aprender/compute";
 * const a = tensor([[4, 1, 1], [0, 7, 2]]);
 * console.log(argmin(a).item(), argmin(a, 1).toArraySync()); // 3 [1, 0]
 * ```
 */
export function argmin(x: TensorLike, axis?: number | null, keepdims = false): Tensor {
  return argReduce("argmin", x, axis, keepdims);
}

/**
 * Index of the maximum along `axis` (over the flattened array when omitted), as i64. Ties give
 * the first occurrence; NaN wins.
 *
 * @example
 * ```ts
 * import { argmax, tensor } from "@aprender/compute";
 * const a = tensor([[4, 9, 9], [0, 7, 2]]);
 * console.log(argmax(a).item(), argmax(a, 0).toArraySync()); // 1 [0, 0, 0]
 * ```
 */
export function argmax(x: TensorLike, axis?: number | null, keepdims = false): Tensor {
  return argReduce("argmax", x, axis, keepdims);
}

/**
 * Whether any element over `axis` is non-zero (NaN counts as true), as bool. Empty → false.
 *
 * @example
 * ```ts
 * import { any, tensor } from "@aprender/compute";
 * console.log(any(tensor([[0, 0], [0, 3]]), 1).toArraySync()); // [false, true]
 * ```
 */
export function any(x: TensorLike, axis?: Axis, keepdims = false): Tensor {
  return reduceOp("any", x, axis, keepdims, () => "bool");
}

/**
 * Whether every element over `axis` is non-zero (NaN counts as true), as bool. Empty → true.
 *
 * @example
 * ```ts
 * import { all, tensor } from "@aprender/compute";
 * console.log(all(tensor([[1, 2], [0, 3]]), 1).toArraySync()); // [true, false]
 * ```
 */
export function all(x: TensorLike, axis?: Axis, keepdims = false): Tensor {
  return reduceOp("all", x, axis, keepdims, () => "bool");
}

/**
 * `log(sum(exp(x)))` over `axis`, computed stably by shifting by the maximum (like
 * `scipy.special.logsumexp`): +inf if any element is +inf, -inf for all -inf or an empty axis,
 * NaN if any is NaN. Integer and bool inputs give f64.
 *
 * @example
 * ```ts
 * import { logsumexp, tensor } from "@aprender/compute";
 * console.log(logsumexp(tensor([1000, 1000], { dtype: "f64" })).item()); // 1000.6931471805599
 * ```
 */
export function logsumexp(x: TensorLike, axis?: Axis, keepdims = false): Tensor {
  return reduceOp("logsumexp", x, axis, keepdims, statDType);
}

/** The `ord` of {@link norm}: a number (±Infinity included), `"fro"` or `"nuc"`. */
export type NormOrder = number | "fro" | "nuc";

/**
 * Vector or matrix norm with `np.linalg.norm` semantics.
 *
 * - `axis` omitted and `ord` omitted: the 2-norm of the flattened tensor.
 * - `axis` a number (or `ord` given on a 1-D tensor): vector norm, `ord` 2 (default), 1,
 *   ±Infinity (max/min |x|), 0 (count of non-zeros) or any p: `(Σ|x|^p)^(1/p)`.
 * - `axis` a pair (or `ord` given on a 2-D tensor): matrix norm, `ord` `"fro"` (default), 1 / -1
 *   (max/min column sum of |x|), Infinity / -Infinity (max/min row sum). `ord` 2, -2 and `"nuc"`
 *   need singular values and throw a ShapeError until linalg provides an SVD.
 *
 * Integer and bool inputs give f64; floats keep their dtype.
 *
 * @example
 * ```ts
 * import { norm, tensor } from "@aprender/compute";
 * console.log(norm(tensor([3, 4])).item()); // 5
 * console.log(norm(tensor([[1, -2], [3, 4]]), 1).item()); // 6
 * console.log(norm(tensor([[1, -2], [3, 4]]), Infinity, 1).toArraySync()); // [2, 4]
 * ```
 */
export function norm(
  x: TensorLike,
  ord?: NormOrder | null,
  axis?: number | readonly number[] | null,
  keepdims = false,
): Tensor {
  return withTensor(x, (t) => {
    const dtype = statDType(checkDType(t.dtype, "norm"));
    const o = ord ?? null;
    if (axis === undefined || axis === null) {
      if (o === null) {
        return reduceAxes("norm", t, [...t.shape.keys()], keepdims, dtype, { ord: 2 });
      }
      if (t.ndim !== 1 && t.ndim !== 2) {
        throw new ShapeError(
          `norm: ord=${String(o)} without an axis needs a 1-D or 2-D tensor, got shape ` +
            `${fmtShape(t.shape)}. Hint: pass axis (one axis for a vector norm, two for a matrix ` +
            `norm), or omit ord for the 2-norm of the flattened tensor.`,
        );
      }
      axis = t.ndim === 1 ? [0] : [0, 1];
    }
    const axes = typeof axis === "number" ? [axis] : [...axis];
    if (axes.length === 1) {
      const a = normalizeAxis(axes[0], t.ndim, "norm");
      const p = o ?? 2;
      if (typeof p !== "number") {
        throw new ShapeError(
          `norm: invalid norm order ${JSON.stringify(p)} for vectors. Hint: "fro" and "nuc" ` +
            `are matrix norms: pass two axes, or use a number for ord.`,
        );
      }
      if (!Number.isFinite(p) && !Number.isNaN(p) && t.shape[a] === 0) {
        throw new ShapeError(
          `norm: ord=${p} of an empty vector (shape ${fmtShape(t.shape)}, axis ${a}) has no ` +
            `value: it is the ${p > 0 ? "max" : "min"} of nothing. Hint: check the size first.`,
        );
      }
      return reduceAxes("norm", t, [a], keepdims, dtype, { ord: p });
    }
    if (axes.length !== 2) {
      throw new ShapeError(
        `norm: axis must name one axis (vector norm) or two (matrix norm), got ` +
          `${JSON.stringify(axes)}.`,
      );
    }
    return matrixNorm(t, o, axes, keepdims, dtype);
  });
}

function matrixNorm(
  t: Tensor,
  o: NormOrder | null,
  axes: number[],
  keepdims: boolean,
  dtype: DType,
): Tensor {
  const [row, col] = axes.map((a) => normalizeAxis(a, t.ndim, "norm"));
  if (row === col) {
    throw new ShapeError(`norm: duplicate axes ${JSON.stringify(axes)} for a matrix norm.`);
  }
  const keptShape = t.shape.map((d, i) => (i === row || i === col ? 1 : d));
  const finish = (r: Tensor): Tensor => {
    if (!keepdims) return r;
    const v = reshape(r, keptShape);
    r.dispose();
    return v;
  };
  if (o === null || o === "fro") {
    return finish(reduceAxes("norm", t, [row, col].sort(), false, dtype, { ord: 2 }));
  }
  if (o === 2 || o === -2 || o === "nuc") {
    throw new ShapeError(
      `norm: ord=${JSON.stringify(o)} for matrices needs singular values (an SVD), which linalg ` +
        `does not provide yet. Hint: use ord "fro", 1, -1, Infinity or -Infinity.`,
    );
  }
  if (o !== 1 && o !== -1 && o !== Infinity && o !== -Infinity) {
    throw new ShapeError(
      `norm: invalid norm order ${JSON.stringify(o)} for matrices; expected "fro", 1, -1, ` +
        `Infinity or -Infinity (2, -2 and "nuc" need an SVD).`,
    );
  }
  // ord ±1: column sums of |x| (sum over rows) then max/min over columns; ord ±inf: the transpose.
  const [sumAxis, pickAxis] = o === 1 || o === -1 ? [row, col] : [col, row];
  if (t.shape[pickAxis] === 0) {
    throw new ShapeError(
      `norm: ord=${o} of a matrix with an empty axis ${pickAxis} (shape ${fmtShape(t.shape)}) ` +
        `is the ${o > 0 ? "max" : "min"} of nothing. Hint: check the size first.`,
    );
  }
  const sums = reduceAxes("norm", t, [sumAxis], false, dtype, { ord: 1 });
  try {
    const pick = pickAxis > sumAxis ? pickAxis - 1 : pickAxis;
    return finish(reduceAxes(o > 0 ? "max" : "min", sums, [pick], false, dtype));
  } finally {
    sums.dispose();
  }
}

function scanOp(op: "cumsum" | "cumprod", x: TensorLike, axis: number | null | undefined): Tensor {
  return withTensor(x, (t) => {
    checkDType(t.dtype, op);
    const a = axis === undefined || axis === null ? null : normalizeAxis(axis, t.ndim, op);
    const shape = a === null ? [t.size] : [...t.shape];
    return runKernel1(op, [t], { axis: a }, { shape, dtype: accumulateDType(t.dtype) });
  });
}

/**
 * Cumulative sum along `axis` (over the flattened array when omitted, like NumPy). Bool and
 * integer inputs give i64; floats keep their dtype and accumulate in float64.
 *
 * @example
 * ```ts
 * import { cumsum, tensor } from "@aprender/compute";
 * const a = tensor([[1, 2], [3, 4]]);
 * console.log(cumsum(a).toArraySync()); // [1, 3, 6, 10]
 * console.log(cumsum(a, 0).toArraySync()); // [[1, 2], [4, 6]]
 * ```
 */
export function cumsum(x: TensorLike, axis?: number | null): Tensor {
  return scanOp("cumsum", x, axis);
}

/**
 * Cumulative product along `axis` (over the flattened array when omitted). Bool and integer
 * inputs give i64 (wrapping like NumPy); floats keep their dtype.
 *
 * @example
 * ```ts
 * import { cumprod, tensor } from "@aprender/compute";
 * console.log(cumprod(tensor([1, 2, 3, 4])).toArraySync()); // [1, 2, 6, 24]
 * ```
 */
export function cumprod(x: TensorLike, axis?: number | null): Tensor {
  return scanOp("cumprod", x, axis);
}

function softmaxOp(op: "softmax" | "logSoftmax", x: TensorLike, axis: number): Tensor {
  return withTensor(x, (t0) => {
    checkDType(t0.dtype, op);
    const a = normalizeAxis(axis, t0.ndim, op);
    // Inside an autocast scope half-precision input is computed in f32 (core/autocast.ts).
    // Every softmax/logSoftmax kernel writes each output element: no zero-fill of the output.
    return withF32(t0, (t) =>
      runKernel1(op, [t], { axis: a }, {
        shape: [...t.shape],
        dtype: floatResult(t.dtype),
        overwritten: true,
      }));
  });
}

/**
 * Softmax along `axis` (default the last): `exp(x - max) / sum(exp(x - max))`, fused per line.
 * The result is float (integers give NumPy's float for exp: i8/u8/bool → f16, i16/u16 → f32,
 * wider → f64). A line holding +inf or only -inf gives NaN, like the NumPy formula.
 *
 * @example
 * ```ts
 * import { softmax, tensor } from "@aprender/compute";
 * console.log(softmax(tensor([1, 1, 1, 1])).toArraySync()); // [0.25, 0.25, 0.25, 0.25]
 * ```
 */
export function softmax(x: TensorLike, axis = -1): Tensor {
  return softmaxOp("softmax", x, axis);
}

/**
 * Log of {@link softmax} along `axis` (default the last), computed stably as
 * `x - max - log(sum(exp(x - max)))`. Same dtypes as softmax.
 *
 * @example
 * ```ts
 * import { logSoftmax, tensor } from "@aprender/compute";
 * console.log(logSoftmax(tensor([0, 0])).toArraySync()); // [-0.6931471824645996, -0.6931471824645996]
 * ```
 */
export function logSoftmax(x: TensorLike, axis = -1): Tensor {
  return softmaxOp("logSoftmax", x, axis);
}
