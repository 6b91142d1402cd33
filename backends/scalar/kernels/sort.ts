/**
 * Scalar kernels of the sort family: sort, argsort and topk along one axis, on any layout.
 *
 * Each line is ordered by an index sort with a stable comparator: NaN sorts last ascending and
 * first descending (NumPy / PyTorch), ties keep their original order. Keys are compared as
 * float64, i64 keys as bigints (exact over the whole range); values are copied raw from storage, so every dtype
 * (i64, bf16 bits) comes out bit-exact.
 *
 * @module
 */
import type { KernelCall, ScalarKernelTable, TensorView } from "../../../core/backend/plugin.ts";
import { contiguousStrides, typed } from "../util.ts";
import { gather, geometry, source } from "./reduce.ts";

/** Attributes of the sort kernels. */
interface SortAttrs {
  /** The (non-negative) axis to sort along. */
  axis: number;
  /** Largest first (sort/argsort; topk's `largest`). */
  descending: boolean;
  /** topk only: how many to keep per line. */
  k?: number;
}

function comparator(
  keys: Float64Array | BigInt64Array,
  descending: boolean,
): (i: number, j: number) => number {
  const sign = descending ? -1 : 1;
  return (i, j) => {
    const a = keys[i], b = keys[j];
    if (a < b) return -sign;
    if (a > b) return sign;
    const an = a !== a, bn = b !== b;
    if (an !== bn) return an ? sign : -sign;
    return i - j;
  };
}

/** Order every line of `x` along `axis`; `emit(line, order)` gets the sorted positions. */
function eachSortedLine(
  x: TensorView,
  axis: number,
  descending: boolean,
  emit: (line: number, order: Int32Array) => void,
): void {
  // i64 keys stay bigints: float64 would tie 2^53 and 2^53 + 1.
  const big = x.dtype === "i64";
  const src = big ? null : source(x);
  const g = src
    ? geometry(x.shape, src.strides, src.offset, [axis])
    : geometry(x.shape, x.strides, x.offset, [axis]);
  const keys = big ? new BigInt64Array(g.n) : new Float64Array(g.n);
  const order = new Int32Array(g.n);
  const cmp = comparator(keys, descending);
  const raw = typed(x) as BigInt64Array;
  for (let i = 0; i < g.outer.length; i++) {
    if (src) gather(src.a, g, i, keys as Float64Array);
    else for (let j = 0, o = g.outer[i]; j < g.n; j++, o += g.step) keys[j] = raw[o];
    for (let j = 0; j < g.n; j++) order[j] = j;
    order.sort(cmp);
    emit(i, order);
  }
}

/** Run the sort, writing values and/or indices of the first `k` positions of each line. */
function run(
  x: TensorView,
  attrs: SortAttrs,
  values: TensorView | null,
  indices: TensorView | null,
): void {
  const axis = attrs.axis, n = x.shape[axis];
  const k = attrs.k ?? n;
  const raw = typed(x);
  const rg = geometry(x.shape, x.strides, x.offset, [axis]);
  const outShape = x.shape.map((d, i) => (i === axis ? k : d));
  const og = geometry(outShape, contiguousStrides(outShape), 0, [axis]);
  const vOut = values ? typed(values) : null;
  const iOut = indices ? typed(indices) as BigInt64Array : null;
  const vOff = values?.offset ?? 0, iOff = indices?.offset ?? 0;
  eachSortedLine(x, axis, attrs.descending, (line, order) => {
    const rb = rg.outer[line], rs = rg.step, ob = og.outer[line], os = og.step;
    for (let j = 0; j < k; j++) {
      const src = order[j], o = ob + j * os;
      if (vOut) vOut[vOff + o] = raw[rb + src * rs];
      if (iOut) iOut[iOff + o] = BigInt(src);
    }
  });
}

/** Scalar kernels of the sort family, by op name. */
export const kernels = {
  sort: (call: KernelCall<SortAttrs>) => run(call.inputs[0], call.attrs, call.outputs[0], null),
  argsort: (call: KernelCall<SortAttrs>) => run(call.inputs[0], call.attrs, null, call.outputs[0]),
  topk: (call: KernelCall<SortAttrs>) =>
    run(call.inputs[0], call.attrs, call.outputs[0], call.outputs[1]),
} satisfies Partial<ScalarKernelTable>;
