/**
 * Scalar kernels of the matmul family: `matmul` (batched GEMM over broadcast views) and `einsum`
 * (a multiply-reduce over operands already viewed in one index space).
 *
 * Both read their operands in place through their strides (transposed, sliced, broadcast and
 * diagonal views need no copy of the whole tensor). Floats accumulate in float64 and round once on
 * store. Integers with a 32-bit (or narrower) result are computed exactly modulo 2^32 and wrap like
 * NumPy's integer loops; integer operands into an i64 result are computed in BigInt (int64.ts),
 * exact and wrapping modulo 2^64 like NumPy's int64.
 *
 * @module
 */
import type { KernelCall, ScalarKernelTable, TensorView } from "../../../core/backend/plugin.ts";
import type { DType, TypedArray } from "../../../core/dtype.ts";
import { sizeOf } from "../../../core/shape.ts";
import { reader, readF64, stridedOffsets, typed, writeF64, writer } from "../util.ts";
import { bigEinsum, bigMatmul, isBigContraction } from "./int64.ts";

/** Dtypes whose typed array elements read as the value itself (no bits decoding, no BigInt). */
function isPlain(d: DType): boolean {
  return d !== "bf16" && d !== "i64";
}

/** Dtypes whose values are integers that fit in an int32 once read. */
function fitsInt32(d: DType): boolean {
  return d === "bool" || d === "i8" || d === "u8" || d === "i16" || d === "u16" || d === "i32";
}

/** Integer outputs computed exactly modulo 2^32 (the result wraps like NumPy's int loops). */
function isWrapInt(d: DType): boolean {
  return d === "i8" || d === "u8" || d === "i16" || d === "u16" || d === "i32" || d === "u32";
}

/**
 * Copy the (m × k) matrix of `t` at storage offset `base` with strides `s0`, `s1` into `dst` in
 * row-major order, as numbers.
 */
function pack(
  t: TensorView,
  arr: TypedArray,
  base: number,
  rows: number,
  cols: number,
  s0: number,
  s1: number,
  dst: Float64Array | Int32Array,
): void {
  if (isPlain(t.dtype)) {
    // An Int32Array destination wraps u32 values modulo 2^32, which the int path relies on.
    const a = arr as Float64Array;
    for (let i = 0, q = 0; i < rows; i++) {
      for (let j = 0, o = base + i * s0; j < cols; j++, o += s1) dst[q++] = a[o];
    }
    return;
  }
  const get = reader(t.dtype, arr);
  for (let i = 0, q = 0; i < rows; i++) {
    for (let j = 0, o = base + i * s0; j < cols; j++, o += s1) dst[q++] = get(o);
  }
}

/**
 * `matmul`: inputs `a` (...batch, m, k) and `b` (...batch, k, n) with the same batch shape (the op
 * broadcasts them with stride-0 views); output (...batch, m, n), contiguous.
 *
 * Each operand matrix is packed once per batch entry (and reused when a broadcast batch axis
 * repeats it), then multiplied in i-k-j order into a float64 accumulator row.
 */
function matmul(call: KernelCall): void {
  const [a, b] = call.inputs;
  const [out] = call.outputs;
  const r = a.ndim;
  const m = a.shape[r - 2], k = a.shape[r - 1], n = b.shape[r - 1];
  const batch = a.shape.slice(0, r - 2);
  const nb = sizeOf(batch);
  if (nb * m * n === 0) return;
  if (isBigContraction(call.inputs, out)) return bigMatmul(call);
  const aBase = stridedOffsets(batch, a.strides.slice(0, r - 2), a.offset);
  const bBase = stridedOffsets(batch, b.strides.slice(0, r - 2), b.offset);
  const sam = a.strides[r - 2], sak = a.strides[r - 1];
  const sbk = b.strides[r - 2], sbn = b.strides[r - 1];
  const aArr = typed(a), bArr = typed(b), oArr = typed(out);
  const intPath = isWrapInt(out.dtype) && fitsInt32OrU32(a.dtype) && fitsInt32OrU32(b.dtype);
  if (intPath) {
    matmulInt32(a, b, out, aArr, bArr, oArr, aBase, bBase, m, k, n, [sam, sak, sbk, sbn]);
    return;
  }
  const A = new Float64Array(m * k), B = new Float64Array(k * n), acc = new Float64Array(n);
  const direct = out.dtype === "f32" || out.dtype === "f64" || out.dtype === "f16";
  const o = oArr as Float64Array;
  const set = direct ? null : writer(out.dtype, oArr);
  let lastA = -1, lastB = -1;
  for (let bi = 0; bi < nb; bi++) {
    if (aBase[bi] !== lastA) pack(a, aArr, lastA = aBase[bi], m, k, sam, sak, A);
    if (bBase[bi] !== lastB) pack(b, bArr, lastB = bBase[bi], k, n, sbk, sbn, B);
    let oo = out.offset + bi * m * n;
    for (let i = 0; i < m; i++, oo += n) {
      gemvRow(A, B, acc, i * k, k, n);
      if (set === null) { for (let j = 0; j < n; j++) o[oo + j] = acc[j]; }
      else for (let j = 0; j < n; j++) set(oo + j, acc[j]);
    }
  }
}

/**
 * `acc = A[ai .. ai+k) · B` (B row-major k × n): four rows of B per pass over `acc`, which
 * halves the accumulator traffic of a plain i-k-j loop.
 */
function gemvRow(
  A: Float64Array,
  B: Float64Array,
  acc: Float64Array,
  ai: number,
  k: number,
  n: number,
): void {
  acc.fill(0);
  let p = 0;
  for (; p + 4 <= k; p += 4) {
    const a0 = A[ai + p], a1 = A[ai + p + 1], a2 = A[ai + p + 2], a3 = A[ai + p + 3];
    const b0 = p * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
    for (let j = 0; j < n; j++) {
      acc[j] += a0 * B[b0 + j] + a1 * B[b1 + j] + a2 * B[b2 + j] + a3 * B[b3 + j];
    }
  }
  for (; p < k; p++) {
    const av = A[ai + p], bo = p * n;
    for (let j = 0; j < n; j++) acc[j] += av * B[bo + j];
  }
}

function fitsInt32OrU32(d: DType): boolean {
  return fitsInt32(d) || d === "u32";
}

/** Integer matmul modulo 2^32 (Math.imul and `| 0`): exact wrap-around for ≤ 32-bit results. */
function matmulInt32(
  a: TensorView,
  b: TensorView,
  out: TensorView,
  aArr: TypedArray,
  bArr: TypedArray,
  oArr: TypedArray,
  aBase: ArrayLike<number>,
  bBase: ArrayLike<number>,
  m: number,
  k: number,
  n: number,
  [sam, sak, sbk, sbn]: number[],
): void {
  const A = new Int32Array(m * k), B = new Int32Array(k * n), acc = new Int32Array(n);
  const o = oArr as Int32Array;
  const nb = aBase.length;
  let lastA = -1, lastB = -1;
  for (let bi = 0; bi < nb; bi++) {
    if (aBase[bi] !== lastA) pack(a, aArr, lastA = aBase[bi], m, k, sam, sak, A);
    if (bBase[bi] !== lastB) pack(b, bArr, lastB = bBase[bi], k, n, sbk, sbn, B);
    let oo = out.offset + bi * m * n;
    for (let i = 0; i < m; i++, oo += n) {
      acc.fill(0);
      const ai = i * k;
      for (let p = 0; p < k; p++) {
        const av = A[ai + p];
        const bo = p * n;
        for (let j = 0; j < n; j++) acc[j] = (acc[j] + Math.imul(av, B[bo + j])) | 0;
      }
      // Typed-array stores wrap modulo 2^bits, which is NumPy's integer overflow behaviour.
      for (let j = 0; j < n; j++) o[oo + j] = acc[j];
    }
  }
}

/**
 * Element values of `t` addressable by storage offset: `get(o)` for plain dtypes reads the typed
 * array itself; bf16 and i64 are decoded once over the range of offsets the view touches.
 */
function numbersOf(t: TensorView): { arr: ArrayLike<number>; base: number } {
  const arr = typed(t);
  if (isPlain(t.dtype)) return { arr: arr as Float64Array, base: 0 };
  let lo = t.offset, hi = t.offset;
  for (let i = 0; i < t.ndim; i++) {
    const span = (t.shape[i] - 1) * t.strides[i];
    if (span > 0) hi += span;
    else lo += span;
  }
  const get = reader(t.dtype, arr);
  const vals = new Float64Array(t.size === 0 ? 0 : hi - lo + 1);
  for (let o = lo; o <= hi && t.size > 0; o++) vals[o - lo] = get(o);
  return { arr: vals, base: lo };
}

/**
 * `einsum`: every input is a view of one shape, the output's axes followed by the summed axes
 * (`attrs.nOut` leading axes); the output is their product summed over the trailing axes.
 * Diagonals (repeated labels) and broadcasting arrive as strides, so this is one loop nest.
 */
function einsum(call: KernelCall<{ nOut: number }>): void {
  const ins = call.inputs;
  const [out] = call.outputs;
  const nOut = call.attrs.nOut;
  const shape = ins[0].shape;
  const outShape = shape.slice(0, nOut), redShape = shape.slice(nOut);
  const nO = sizeOf(outShape), nR = sizeOf(redShape);
  if (nO === 0) return;
  if (isBigContraction(ins, out)) return bigEinsum(call);
  const nIn = ins.length;
  const data = ins.map(numbersOf);
  const outOffs = ins.map((t, i) =>
    stridedOffsets(outShape, t.strides.slice(0, nOut), t.offset - data[i].base)
  );
  const redOffs = ins.map((t) => stridedOffsets(redShape, t.strides.slice(nOut), 0));
  const vals = new Float64Array(nO);
  if (nR > 0) {
    if (nIn === 1) {
      const x = data[0].arr, oo = outOffs[0], ro = redOffs[0];
      for (let i = 0; i < nO; i++) {
        let s = 0;
        const base = oo[i];
        for (let r = 0; r < nR; r++) s += x[base + ro[r]];
        vals[i] = s;
      }
    } else if (nIn === 2) {
      const x = data[0].arr, y = data[1].arr;
      const ox = outOffs[0], oy = outOffs[1], rx = redOffs[0], ry = redOffs[1];
      for (let i = 0; i < nO; i++) {
        let s = 0;
        const bx = ox[i], by = oy[i];
        for (let r = 0; r < nR; r++) s += x[bx + rx[r]] * y[by + ry[r]];
        vals[i] = s;
      }
    } else {
      for (let i = 0; i < nO; i++) {
        let s = 0;
        for (let r = 0; r < nR; r++) {
          let p = 1;
          for (let t = 0; t < nIn; t++) p *= data[t].arr[outOffs[t][i] + redOffs[t][r]];
          s += p;
        }
        vals[i] = s;
      }
    }
  }
  const set = writer(out.dtype, typed(out));
  for (let i = 0; i < nO; i++) set(out.offset + i, vals[i]);
}

/** Scalar kernels of the linalg family, by op name. */
/**
 * `linear` (contract of core/ops/fused.ts): inputs x (M, in), weight (out, in) and optional
 * bias (out,), one float dtype, any strides; output (M, out) contiguous = x·Wᵀ + b, each element
 * accumulated in f64 from the bias (or 0) in k order and rounded once.
 */
function linear(call: KernelCall): void {
  const [x, w, b] = call.inputs;
  const [out] = call.outputs;
  const [M, K] = x.shape, N = w.shape[0];
  const X = readF64(x), W = readF64(w), B = b ? readF64(b) : null;
  const res = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = B ? B[j] : 0;
      for (let k = 0, xo = i * K, wo = j * K; k < K; k++) s += X[xo + k] * W[wo + k];
      res[i * N + j] = s;
    }
  }
  writeF64(out, res);
}

export const kernels = { matmul, einsum, linear } satisfies Partial<ScalarKernelTable>;
