/**
 * Scalar kernels of the indexing family: take, gather, scatter, scatterAdd, where, maskedSelect,
 * nonzero. Inputs may have any strides (views, broadcasts). Elements move as raw values when the
 * dtypes agree (exact for every dtype, i64 included); into an i64 output they are read as bigints
 * (exact); otherwise they are converted through float64.
 *
 * @module
 */
import { emptyView } from "../../../core/backend/alloc.ts";
import type {
  KernelCall,
  OwnedView,
  ScalarKernelTable,
  TensorView,
} from "../../../core/backend/plugin.ts";
import { IndexError } from "../../../core/errors.ts";
import { sizeOf } from "../../../core/shape.ts";
import { offsets, reader, readF64, stridedOffsets, typed, writer } from "../util.ts";
import { bigReader } from "./int64.ts";

/** Attributes of the index kernels: the (normalized) axis and the user-facing op name. */
interface AxisAttrs {
  axis: number;
  op: string;
}

/** Index values as numbers, wrapped to 0..len-1; out of range is an IndexError. */
function readIndices(idx: TensorView, len: number, op: string, axis: number): Float64Array {
  const v = readF64(idx);
  for (let i = 0; i < v.length; i++) {
    let k = v[i];
    if (k < 0) k += len;
    if (!(k >= 0 && k < len)) {
      throw new IndexError(
        `${op}: index ${v[i]} is out of range for axis ${axis} of length ${len}` +
          (len === 0 ? " (the axis is empty)." : `; valid indices are ${-len}..${len - 1}.`),
      );
    }
    v[i] = k;
  }
  return v;
}

/** `take`: out = x[..., idx, ...] along attrs.axis (out shape x[:a] + idx.shape + x[a+1:]). */
function take(call: KernelCall<AxisAttrs>): void {
  const [x, idxT] = call.inputs;
  const [out] = call.outputs;
  const a = call.attrs.axis;
  const idx = readIndices(idxT, x.shape[a], call.attrs.op, a);
  const outer = stridedOffsets(x.shape.slice(0, a), x.strides.slice(0, a), x.offset);
  const inner = stridedOffsets(x.shape.slice(a + 1), x.strides.slice(a + 1), 0);
  const sa = x.strides[a];
  const src = typed(x), dst = typed(out);
  const ni = inner.length, nk = idx.length;
  let o = out.offset;
  for (let p = 0; p < outer.length; p++) {
    const base = outer[p];
    for (let k = 0; k < nk; k++) {
      const b = base + idx[k] * sa;
      for (let i = 0; i < ni; i++) dst[o++] = src[b + inner[i]];
    }
  }
}

/** Offsets into `t` of the positions of a tensor of `shape`, ignoring axis `a` (stride 0). */
function offsetsOffAxis(
  t: TensorView,
  shape: readonly number[],
  a: number,
): Int32Array | Float64Array {
  const strides = t.strides.map((s, d) => (d === a ? 0 : s));
  return stridedOffsets(shape, strides, t.offset);
}

/** `gather`: out[p] = x[p with axis coordinate replaced by index[p]]. */
function gather(call: KernelCall<AxisAttrs>): void {
  const [x, idxT] = call.inputs;
  const [out] = call.outputs;
  const a = call.attrs.axis;
  const idx = readIndices(idxT, x.shape[a], call.attrs.op, a);
  const base = offsetsOffAxis(x, idxT.shape, a);
  const sa = x.strides[a];
  const src = typed(x), dst = typed(out);
  for (let p = 0, o = out.offset; p < idx.length; p++) dst[o++] = src[base[p] + idx[p] * sa];
}

/** Copy `x` into the contiguous `out` (same shape and dtype). */
function copyWhole(x: TensorView, out: TensorView): void {
  const src = typed(x), dst = typed(out);
  const so = offsets(x);
  const n = out.size;
  for (let i = 0; i < n; i++) dst[out.offset + i] = src[so === null ? x.offset + i : so[i]];
}

/** `scatter` / `scatterAdd`: out = copy of x, then out[target(p)] = / += src[p]. */
function scatter(call: KernelCall<AxisAttrs & { reduce: "none" | "add" }>): void {
  const [x, idxT, s] = call.inputs;
  const [out] = call.outputs;
  const a = call.attrs.axis;
  copyWhole(x, out);
  const idx = readIndices(idxT, x.shape[a], call.attrs.op, a);
  const base = offsetsOffAxis(out, idxT.shape, a);
  const sa = out.strides[a];
  const dst = typed(out);
  const so = offsets(s);
  const n = idx.length;
  if (call.attrs.reduce === "none" && s.dtype === out.dtype) {
    const src = typed(s);
    for (let p = 0; p < n; p++) {
      dst[base[p] + idx[p] * sa] = src[so === null ? s.offset + p : so[p]];
    }
    return;
  }
  if (out.dtype === "i64") {
    // Exact, wrapping like NumPy's int64 (float64 would round past 2^53).
    const d = dst as BigInt64Array, get = bigReader(s), add = call.attrs.reduce === "add";
    for (let p = 0; p < n; p++) {
      const o = base[p] + idx[p] * sa, v = get(so === null ? s.offset + p : so[p]);
      d[o] = add ? BigInt.asIntN(64, d[o] + v) : v;
    }
    return;
  }
  const vals = readF64(s);
  const get = reader(out.dtype, dst), set = writer(out.dtype, dst);
  if (call.attrs.reduce === "add") {
    for (let p = 0; p < n; p++) {
      const o = base[p] + idx[p] * sa;
      set(o, get(o) + vals[p]);
    }
  } else {
    for (let p = 0; p < n; p++) set(base[p] + idx[p] * sa, vals[p]);
  }
}

/** `where`: out = cond ? a : b, all three broadcast to out's shape. */
function where(call: KernelCall): void {
  const [c, a, b] = call.inputs;
  const [out] = call.outputs;
  const shape = out.shape, n = out.size;
  const cv = readF64(c, shape);
  const dst = typed(out);
  const ao = offsets(a, shape), bo = offsets(b, shape);
  const aArr = typed(a), bArr = typed(b);
  const raw = a.dtype === out.dtype && b.dtype === out.dtype;
  if (raw) {
    for (let i = 0; i < n; i++) {
      dst[out.offset + i] = cv[i] !== 0
        ? aArr[ao === null ? a.offset + i : ao[i]]
        : bArr[bo === null ? b.offset + i : bo[i]];
    }
    return;
  }
  if (out.dtype === "i64") {
    const d = dst as BigInt64Array, ga = bigReader(a), gb = bigReader(b);
    for (let i = 0; i < n; i++) {
      d[out.offset + i] = cv[i] !== 0
        ? ga(ao === null ? a.offset + i : ao[i])
        : gb(bo === null ? b.offset + i : bo[i]);
    }
    return;
  }
  const ga = reader(a.dtype, aArr), gb = reader(b.dtype, bArr), set = writer(out.dtype, dst);
  for (let i = 0; i < n; i++) {
    set(
      out.offset + i,
      cv[i] !== 0 ? ga(ao === null ? a.offset + i : ao[i]) : gb(bo === null ? b.offset + i : bo[i]),
    );
  }
}

/** `maskedSelect`: the elements of x (already broadcast) where mask (same shape) is true. */
function maskedSelect(call: KernelCall): OwnedView[] {
  const [x, m] = call.inputs;
  const n = x.size;
  const xo = offsets(x), mo = offsets(m);
  const mArr = typed(m) as Uint8Array;
  let count = 0;
  for (let i = 0; i < n; i++) if (mArr[mo === null ? m.offset + i : mo[i]]) count++;
  const out = emptyView([count], x.dtype, x.device);
  const src = typed(x), dst = typed(out);
  for (let i = 0, k = 0; i < n; i++) {
    if (mArr[mo === null ? m.offset + i : mo[i]]) {
      dst[k++] = src[xo === null ? x.offset + i : xo[i]];
    }
  }
  return [out];
}

/** `nonzero`: i64 coordinates (n, ndim) of the non-zero elements, C order. */
function nonzero(call: KernelCall): OwnedView[] {
  const [x] = call.inputs;
  const v = readF64(x);
  let count = 0;
  for (let i = 0; i < v.length; i++) if (v[i] !== 0) count++;
  const r = x.ndim;
  const out = emptyView([count, r], "i64", x.device);
  const dst = typed(out) as BigInt64Array;
  const coord = new Array<number>(r).fill(0);
  let k = 0;
  const n = sizeOf(x.shape);
  for (let i = 0; i < n; i++) {
    if (v[i] !== 0) { for (let d = 0; d < r; d++) dst[k++] = BigInt(coord[d]); }
    for (let d = r - 1; d >= 0; d--) {
      if (++coord[d] < x.shape[d]) break;
      coord[d] = 0;
    }
  }
  return [out];
}

/** Scalar kernels of the indexing family, by op name. */
export const kernels = {
  take,
  gather,
  scatter,
  scatterAdd: scatter,
  where,
  maskedSelect,
  nonzero,
} satisfies Partial<ScalarKernelTable>;
