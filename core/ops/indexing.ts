/**
 * Indexing ops: take / indexSelect (pick slices by index along an axis), gather / scatter /
 * scatterAdd (element-wise indices along an axis), where (select by condition), maskedSelect and
 * nonzero (data-dependent shapes).
 *
 * Index arguments may be tensors of any integer dtype (i8..i64, u8..u32) or JS numbers / nested
 * arrays of integers. Negative indices count from the end of the axis, like NumPy; an index out of
 * range is an IndexError naming the op, the index and the axis length.
 *
 * @module
 */
import { checkDType, type DType, isInt } from "../dtype.ts";
import { promoteTypes, scalarPromote } from "../promote.ts";
import { DTypeError, fmtShape, IndexError, ShapeError } from "../errors.ts";
import { flattenNested, nestedShape } from "../nested.ts";
import { commonDevice, runKernel1 } from "../op.ts";
import { broadcastShapesFor, normalizeAxis } from "../shape.ts";
import { type NestedArray, Tensor, type TensorLike } from "../tensor.ts";
import { asTensor, full, tensor } from "./creation.ts";
import { broadcastTo, reshape, slice } from "./view.ts";
import { disposeAll, scoped } from "../dispose.ts";

/**
 * An index argument as an integer tensor. Tensors pass through (checked to be integer); JS data
 * becomes a new i64 tensor (`owned` tells the caller to dispose it).
 */
function asIndex(op: string, index: TensorLike, device: string): { t: Tensor; owned: boolean } {
  if (index instanceof Tensor) {
    if (!isInt(index.dtype)) {
      throw new DTypeError(
        `${op}: indices must have an integer dtype, got ${index.dtype} (shape ` +
          `${fmtShape(index.shape)}). Hint: ` +
          (index.dtype === "bool"
            ? `for a boolean mask use maskedSelect(x, mask), or nonzero(mask) for positions.`
            : `convert them with .astype("i64") (round first if they are not whole numbers).`),
      );
    }
    return { t: index, owned: false };
  }
  if (ArrayBuffer.isView(index)) {
    const t = tensor(index);
    if (!isInt(t.dtype)) {
      t.dispose();
      throw new DTypeError(
        `${op}: indices must be integers, got a ${index.constructor.name}. ` +
          `Hint: use an Int32Array, a BigInt64Array or a plain array of integers.`,
      );
    }
    return { t, owned: true };
  }
  const shape = nestedShape(index as NestedArray, op);
  const flat = flattenNested(index as NestedArray);
  for (const v of flat) {
    if (!Number.isInteger(v)) {
      throw new DTypeError(
        `${op}: indices must be integers, got ${v}. Hint: round them first (Math.round) or ` +
          `use an integer tensor.`,
      );
    }
  }
  return {
    t: tensor(Float64Array.from(flat), { dtype: "i64", shape, device }),
    owned: true,
  };
}

/**
 * Take elements (or slices) by index along `axis`, NumPy's `take`: the output has shape
 * `x.shape[:axis] + indices.shape + x.shape[axis+1:]`. With `axis` undefined, `x` is flattened
 * first. Negative indices count from the end.
 *
 * @example
 * ```ts
 * import { take, tensor } from "@aprender/compute";
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);
 * console.log(take(x, [0, -1], 1).toArraySync()); // [[1, 3], [4, 6]]
 * console.log(take(x, [[5, 0]]).toArraySync()); // [[6, 1]]
 * ```
 */
export function take(x: TensorLike, indices: TensorLike, axis?: number): Tensor {
  const xt = asTensor(x);
  const { t: idx, owned } = asIndex("take", indices, xt.device);
  const src = axis === undefined ? reshape(xt, [xt.size]) : xt;
  try {
    return takeAlong("take", src, idx, axis ?? 0, idx.shape);
  } finally {
    if (src !== xt) src.dispose();
    if (owned) idx.dispose();
    if (xt !== x) xt.dispose();
  }
}

function takeAlong(
  op: string,
  x: Tensor,
  idx: Tensor,
  axis: number,
  idxShape: readonly number[],
): Tensor {
  if (x.ndim === 0) {
    throw new IndexError(`${op}: cannot index a scalar (shape ()) along an axis.`);
  }
  const a = normalizeAxis(axis, x.ndim, op);
  const shape = [...x.shape.slice(0, a), ...idxShape, ...x.shape.slice(a + 1)];
  return runKernel1("take", [x, idx], { axis: a, op }, { shape, dtype: x.dtype });
}

/**
 * Select slices along `axis` by a 1-D list of indices, PyTorch's `index_select` (NumPy's
 * `take(x, index, axis)`): the output has `x`'s shape with `axis` resized to `index.length`.
 *
 * @example
 * ```ts
 * import { indexSelect, tensor } from "@aprender/compute";
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);
 * console.log(indexSelect(x, 0, [1, 1, 0]).toArraySync()); // [[4, 5, 6], [4, 5, 6], [1, 2, 3]]
 * ```
 */
export function indexSelect(x: Tensor, axis: number, index: TensorLike): Tensor {
  const { t: idx, owned } = asIndex("indexSelect", index, x.device);
  try {
    if (idx.ndim > 1) {
      throw new ShapeError(
        `indexSelect: index must be 1-D, got shape ${fmtShape(idx.shape)}. ` +
          `Hint: flatten it, or use take(x, index, axis) for an index of any shape.`,
      );
    }
    return takeAlong("indexSelect", x, idx, axis, [idx.size]);
  } finally {
    if (owned) idx.dispose();
  }
}

/** Check that an element-wise index tensor fits `x` (same rank, no longer than x off `axis`). */
function checkElementIndex(op: string, x: Tensor, a: number, idx: Tensor): void {
  if (idx.ndim !== x.ndim) {
    throw new ShapeError(
      `${op}: index must have the same rank as x: index shape ${fmtShape(idx.shape)}, ` +
        `x shape ${fmtShape(x.shape)}. Hint: unsqueeze the index to rank ${x.ndim}.`,
    );
  }
  for (let d = 0; d < x.ndim; d++) {
    if (d !== a && idx.shape[d] > x.shape[d]) {
      throw new ShapeError(
        `${op}: index shape ${fmtShape(idx.shape)} is longer than x shape ` +
          `${fmtShape(x.shape)} on axis ${d} (${idx.shape[d]} > ${x.shape[d]}); only axis ${a} ` +
          `may differ.`,
      );
    }
  }
}

/**
 * Gather values along `axis` with an index of the same rank, PyTorch's `gather`:
 * `out[i][j][k] = x[index[i][j][k]][j][k]` for axis 0 (and likewise for other axes). The output
 * has `index`'s shape; `index.shape[d] <= x.shape[d]` for `d != axis`. When `index` has `x`'s shape
 * off `axis`, this is NumPy's `take_along_axis`. Negative indices count from the end.
 *
 * @example
 * ```ts
 * import { gather, tensor } from "@aprender/compute";
 * const x = tensor([[10, 11, 12], [20, 21, 22]]);
 * console.log(gather(x, 1, [[2, 0], [1, 1]]).toArraySync()); // [[12, 10], [21, 21]]
 * ```
 */
export function gather(x: Tensor, axis: number, index: TensorLike): Tensor {
  const { t: idx, owned } = asIndex("gather", index, x.device);
  try {
    const a = normalizeAxis(axis, x.ndim, "gather");
    checkElementIndex("gather", x, a, idx);
    return runKernel1("gather", [x, idx], { axis: a, op: "gather" }, {
      shape: idx.shape,
      dtype: x.dtype,
    });
  } finally {
    if (owned) idx.dispose();
  }
}

function scatterImpl(
  op: string,
  x: Tensor,
  axis: number,
  index: TensorLike,
  src: TensorLike,
  reduce: "none" | "add",
): Tensor {
  const { t: idx, owned } = asIndex(op, index, x.device);
  const tmp: Tensor[] = [];
  try {
    const a = normalizeAxis(axis, x.ndim, op);
    checkElementIndex(op, x, a, idx);
    let s: Tensor;
    if (typeof src === "number" || typeof src === "boolean") {
      const v = full([], src, { dtype: x.dtype, device: x.device });
      tmp.push(v);
      s = broadcastTo(v, idx.shape, op);
    } else {
      const st = asTensor(src, x.dtype, x.device);
      if (st !== src) tmp.push(st);
      if (st.ndim !== idx.ndim || st.shape.some((d, i) => d < idx.shape[i])) {
        throw new ShapeError(
          `${op}: src shape ${fmtShape(st.shape)} must have the rank of index ` +
            `${fmtShape(idx.shape)} and be at least as long on every axis.`,
        );
      }
      s = slice(st, ...idx.shape.map((d) => ({ stop: d })));
    }
    tmp.push(s);
    return runKernel1(op === "scatterAdd" ? "scatterAdd" : "scatter", [x, idx, s], {
      axis: a,
      op,
      reduce,
    }, { shape: x.shape, dtype: x.dtype });
  } finally {
    disposeAll(tmp);
    if (owned) idx.dispose();
  }
}

/**
 * Out-of-place scatter along `axis`, PyTorch's `scatter`: a copy of `x` where, for axis 0,
 * `out[index[i][j]][j] = src[i][j]` (and likewise for other axes). `src` is a tensor (read at the
 * index's positions, cast to `x`'s dtype) or a number. `index` has `x`'s rank. Where `index` repeats
 * a target, which write wins is unspecified. Negative indices count from the end. `x` is unchanged.
 *
 * @example
 * ```ts
 * import { scatter, zeros } from "@aprender/compute";
 * const out = scatter(zeros([2, 3]), 1, [[2], [0]], [[5], [7]]);
 * console.log(out.toArraySync()); // [[0, 0, 5], [7, 0, 0]]
 * ```
 */
export function scatter(x: Tensor, axis: number, index: TensorLike, src: TensorLike): Tensor {
  return scatterImpl("scatter", x, axis, index, src, "none");
}

/**
 * Out-of-place scatter-add along `axis`, PyTorch's `scatter_add`: a copy of `x` to which, for
 * axis 0, `src[i][j]` is added at `out[index[i][j]][j]`; repeated targets accumulate (NumPy's
 * `np.add.at`). Each addition rounds to `x`'s dtype; i64 adds exactly, wrapping like NumPy.
 *
 * @example
 * ```ts
 * import { scatterAdd, zeros } from "@aprender/compute";
 * console.log(scatterAdd(zeros([3]), 0, [0, 2, 0], [1, 2, 3]).toArraySync()); // [4, 0, 2]
 * ```
 */
export function scatterAdd(x: Tensor, axis: number, index: TensorLike, src: TensorLike): Tensor {
  return scatterImpl("scatterAdd", x, axis, index, src, "add");
}

/**
 * Pick from `a` where `cond` is true (non-zero) and from `b` elsewhere, NumPy's 3-argument
 * `where`. The three broadcast together; the dtype is the promotion of `a` and `b` (a JS number
 * is a "weak" scalar that keeps the other operand's dtype, see `scalarPromote`).
 *
 * @example
 * ```ts
 * import { tensor, where } from "@aprender/compute";
 * const x = tensor([1, -2, 3]);
 * console.log(where(tensor([true, false, true]), x, 0).toArraySync()); // [1, 0, 3]
 * ```
 */
export function where(cond: TensorLike, a: TensorLike, b: TensorLike): Tensor {
  for (const v of [cond, a, b]) if (v instanceof Tensor) checkDType(v.dtype, "where");
  return scoped((own) => {
    const c = own(asTensor(cond), cond);
    const isScalar = (v: TensorLike) => typeof v === "number" || typeof v === "boolean";
    let dtype: DType;
    let at: Tensor, bt: Tensor;
    if (isScalar(a) && !isScalar(b)) {
      bt = own(asTensor(b, undefined, c.device), b);
      dtype = scalarPromote(bt.dtype, a as number);
      at = own(asTensor(a, dtype, c.device), a);
    } else if (isScalar(b) && !isScalar(a)) {
      at = own(asTensor(a, undefined, c.device), a);
      dtype = scalarPromote(at.dtype, b as number);
      bt = own(asTensor(b, dtype, c.device), b);
    } else {
      at = own(asTensor(a, undefined, c.device), a);
      bt = own(asTensor(b, undefined, c.device), b);
      dtype = promoteTypes(at.dtype, bt.dtype);
    }
    const shape = broadcastShapesFor("where", c.shape, at.shape, bt.shape);
    return runKernel1("where", [c, at, bt], {}, { shape, dtype });
  });
}

/**
 * The elements of `x` where the boolean `mask` is true, as a 1-D tensor in C order (NumPy's
 * `x[mask]`, PyTorch's `masked_select`). `x` and `mask` broadcast together.
 *
 * @example
 * ```ts
 * import { maskedSelect, tensor } from "@aprender/compute";
 * const x = tensor([[1, 2], [3, 4]]);
 * console.log(maskedSelect(x, tensor([[true, false], [false, true]])).toArraySync()); // [1, 4]
 * ```
 */
export function maskedSelect(x: TensorLike, mask: TensorLike): Tensor {
  const xt = asTensor(x);
  const m = asTensor(mask, undefined, xt.device);
  const views: Tensor[] = [];
  try {
    if (m.dtype !== "bool") {
      throw new DTypeError(
        `maskedSelect: mask must be bool, got ${m.dtype} (shape ${fmtShape(m.shape)}). ` +
          `Hint: build it with a comparison such as x.gt(0), or convert with .astype("bool").`,
      );
    }
    commonDevice("maskedSelect", [xt, m]);
    const shape = broadcastShapesFor("maskedSelect", xt.shape, m.shape);
    views.push(broadcastTo(xt, shape, "maskedSelect"), broadcastTo(m, shape, "maskedSelect"));
    return runKernel1("maskedSelect", views, {}, null);
  } finally {
    disposeAll(views);
    if (m !== mask) m.dispose();
    if (xt !== x) xt.dispose();
  }
}

/**
 * Positions of the non-zero elements of `x`, as an i64 tensor of shape `(n, x.ndim)` in C order
 * (PyTorch's `nonzero`, NumPy's `argwhere`). NaN counts as non-zero.
 *
 * @example
 * ```ts
 * import { nonzero, tensor } from "@aprender/compute";
 * console.log(nonzero(tensor([[0, 1], [2, 0]])).toArraySync()); // [[0, 1], [1, 0]]
 * ```
 */
export function nonzero(x: TensorLike): Tensor {
  const xt = asTensor(x);
  try {
    return runKernel1("nonzero", [xt], {}, null);
  } finally {
    if (xt !== x) xt.dispose();
  }
}
