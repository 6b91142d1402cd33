/**
 * Scatter with the reductions core has no op for (`max`, `min`, `mul`), for ScatterElements and
 * ScatterND: a loop over the updates on the host (CPU tensors; indices already wrapped and
 * checked by the caller), writing into a copy of the data.
 *
 * @module
 */
import type { DType } from "../../../core/dtype.ts";
import { ShapeError } from "../../../core/errors.ts";
import { fromTyped } from "../../../core/ops/creation.ts";
import { contiguous } from "../../../core/ops/view.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { ints } from "./registry.ts";

type Num = number | bigint;
type Combine = (a: Num, b: Num) => Num;

const COMBINE: Record<string, Combine> = {
  max: (a, b) => (b > a || b !== b ? b : a), // NaN in an update wins, as in onnx's reference
  min: (a, b) => (b < a || b !== b ? b : a),
  mul: (a, b) => (typeof a === "bigint" ? a * (b as bigint) : (a as number) * (b as number)),
};

/** The reduction's combine function, or a ShapeError naming the op and the reduction. */
export function combineOf(op: string, red: string): Combine {
  const f = COMBINE[red];
  if (!f) {
    throw new ShapeError(
      `${op}: reduction "${red}" is not one of none, add, mul, max, min.`,
    );
  }
  return f;
}

function hostValues(t: Tensor, op: string): { data: ArrayLike<Num> & { [i: number]: Num } } {
  if (t.device !== "cpu") {
    throw new ShapeError(
      `${op}: reductions mul/max/min run on CPU tensors only (got ${t.device}).`,
    );
  }
  const c = contiguous(t);
  try {
    return { data: (c.dataSync() as unknown as Num[]).slice() };
  } finally {
    c.dispose();
  }
}

function strides(shape: readonly number[]): number[] {
  const s = shape.map(() => 1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

function result(x: Tensor, out: ArrayLike<Num>): Tensor {
  const d = x.dtype as DType;
  const copy = contiguous(x);
  try {
    const ta = copy.dataSync();
    const fresh = new (ta.constructor as new (n: number) => typeof ta)(ta.length);
    for (let i = 0; i < ta.length; i++) (fresh as unknown as Num[])[i] = out[i];
    return fromTyped(fresh as never, [...x.shape], d);
  } finally {
    copy.dispose();
  }
}

/** ScatterElements with `red`: indices (wrapped) like updates; axis `a`. */
export function scatterElementsReduce(x: Tensor, a: number, idx: Tensor, upd: Tensor, red: string) {
  const f = combineOf("ScatterElements", red);
  const out = hostValues(x, "ScatterElements").data;
  const iv = ints(idx), uv = hostValues(upd, "ScatterElements").data;
  const xs = strides(x.shape), us = strides(upd.shape);
  for (let e = 0; e < iv.length; e++) {
    let off = 0, rem = e;
    for (let d = 0; d < upd.ndim; d++) {
      const coord = Math.floor(rem / us[d]);
      rem -= coord * us[d];
      off += (d === a ? iv[e] : coord) * xs[d];
    }
    out[off] = f(out[off], uv[e]);
  }
  return result(x, out);
}

/** ScatterND with `red`: flat row numbers (wrapped) of `rows` rows of `cols` values each. */
export function scatterNDReduce(x: Tensor, flat: Tensor, upd: Tensor, cols: number, red: string) {
  const f = combineOf("ScatterND", red);
  const out = hostValues(x, "ScatterND").data;
  const rows = ints(flat), uv = hostValues(upd, "ScatterND").data;
  rows.forEach((r, i) => {
    for (let j = 0; j < cols; j++) out[r * cols + j] = f(out[r * cols + j], uv[i * cols + j]);
  });
  return result(x, out);
}
