/**
 * The OpenBLAS plugin's BLAS kernels: `matmul` (GEMM, or GEMV when a side is a vector, on the
 * operands in place) and `linear` (bias written into the output, then one GEMM with beta = 1).
 *
 * @module
 */
import type { Kernel, KernelCall, KernelEntry, Runner } from "../../core/backend/plugin.ts";
import { stridedOffsets } from "../../core/shape.ts";
import { storagePtr } from "./ptr.ts";
import { CblasNoTrans, CblasRowMajor, CblasTrans } from "./ffi.ts";
import { at, blasGemm, BYTES, isHost, lib, state, view } from "./shared.ts";

// ---- matmul ----------------------------------------------------------------------------------

interface MatLayout {
  trans: number;
  ld: number;
}

/** How BLAS can read a rows × cols matrix with strides (s0, s1) in place, or null. */
function matLayout(rows: number, cols: number, s0: number, s1: number): MatLayout | null {
  if ((cols === 1 || s1 === 1) && (rows === 1 || s0 >= cols)) {
    return { trans: CblasNoTrans, ld: rows === 1 ? Math.max(1, cols) : s0 };
  }
  if ((rows === 1 || s0 === 1) && (cols === 1 || s1 >= rows)) {
    return { trans: CblasTrans, ld: cols === 1 ? Math.max(1, rows) : s1 };
  }
  return null;
}

type MatmulPlan =
  | { kind: "empty" }
  | { kind: "gemm"; a: MatLayout; b: MatLayout }
  /** y = op(M)·x: M is `a` (n = 1) or `b` (m = 1); x the other operand's vector. */
  | { kind: "gemv"; matIsA: boolean; mat: MatLayout; inc: number };

function planMatmul(call: KernelCall): MatmulPlan | null {
  const [a, b] = call.inputs;
  const [out] = call.outputs;
  if (!a || !b || !out || !state.load?.ok) return null;
  const d = out.dtype;
  if ((d !== "f32" && d !== "f64") || a.dtype !== d || b.dtype !== d || a.ndim < 2) return null;
  if (!isHost(a) || !isHost(b) || !isHost(out)) return null;
  const r = a.ndim;
  const m = a.shape[r - 2], k = a.shape[r - 1], n = b.shape[r - 1];
  if (out.size === 0 || k === 0) return { kind: "empty" };
  const sam = a.strides[r - 2], sak = a.strides[r - 1];
  const sbk = b.strides[r - 2], sbn = b.strides[r - 1];
  if (n === 1) {
    const inc = k === 1 ? 1 : sbk;
    const mat = matLayout(m, k, sam, sak);
    if (mat && inc > 0) return { kind: "gemv", matIsA: true, mat, inc };
  }
  if (m === 1) {
    const inc = k === 1 ? 1 : sak;
    const mat = matLayout(k, n, sbk, sbn);
    if (mat && inc > 0) return { kind: "gemv", matIsA: false, mat, inc };
  }
  const la = matLayout(m, k, sam, sak), lb = matLayout(k, n, sbk, sbn);
  return la && lb ? { kind: "gemm", a: la, b: lb } : null;
}

/**
 * `matmul` (contract of core/ops/linalg.ts): a (...batch, m, k) @ b (...batch, k, n) → out
 * (...batch, m, n) contiguous; batch axes already broadcast (stride 0 where repeated). f32 and
 * f64 with both operands of the output's dtype; one GEMM (or GEMV when m or n is 1) per batch
 * entry, on the operands in place.
 */
export const matmul: Kernel = {
  plan(call: KernelCall): Runner | null {
    const plan = planMatmul(call);
    return plan && ((c: KernelCall) => runMatmul(c, plan));
  },
};

/** Run a matmul call the way `plan` (made for a call with the same layouts) says. */
function runMatmul(call: KernelCall, plan: MatmulPlan): void {
  if (plan.kind === "empty") return; // outputs are zero-filled; k = 0 gives zeros
  const [a, b] = call.inputs;
  const [out] = call.outputs;
  const r = a.ndim, f32 = out.dtype === "f32", bytes = BYTES[out.dtype as "f32" | "f64"];
  const m = a.shape[r - 2], k = a.shape[r - 1], n = b.shape[r - 1];
  const batch = a.shape.slice(0, r - 2);
  // One matrix (the common case) needs no offset tables (typed-array allocations cost ~0.5 µs).
  const aOff = r === 2 ? [a.offset] : stridedOffsets(batch, a.strides.slice(0, r - 2), a.offset);
  const bOff = r === 2 ? [b.offset] : stridedOffsets(batch, b.strides.slice(0, r - 2), b.offset);
  const pa = storagePtr(a), pb = storagePtr(b), po = storagePtr(out);
  const s = lib().symbols;
  const nb = aOff.length;
  if (plan.kind === "gemm") {
    const { a: la, b: lb } = plan;
    for (let i = 0; i < nb; i++) {
      blasGemm(
        !f32,
        la.trans,
        lb.trans,
        m,
        n,
        k,
        1,
        at(pa, aOff[i], bytes),
        la.ld,
        at(pb, bOff[i], bytes),
        lb.ld,
        0,
        at(po, out.offset + i * m * n, bytes),
        n,
      );
    }
    return;
  }
  const gemv = f32 ? s.cblas_sgemv : s.cblas_dgemv;
  const { matIsA, mat, inc } = plan;
  // The matrix as stored row-major: (rows × cols) = the logical matrix, or its transpose.
  const [lr, lc] = matIsA ? [m, k] : [k, n];
  const [sr, sc] = mat.trans === CblasNoTrans ? [lr, lc] : [lc, lr];
  // y = M·x needs op = the stored form's transpose flag; y = Mᵀ·x (m = 1) the opposite.
  const trans = matIsA === (mat.trans === CblasNoTrans) ? CblasNoTrans : CblasTrans;
  const [pm, mOff, pv, vOff] = matIsA ? [pa, aOff, pb, bOff] : [pb, bOff, pa, aOff];
  for (let i = 0; i < nb; i++) {
    gemv(
      CblasRowMajor,
      trans,
      sr,
      sc,
      1,
      at(pm, mOff[i], bytes),
      mat.ld,
      at(pv, vOff[i], bytes),
      inc,
      0,
      at(po, out.offset + i * m * n, bytes),
      1,
    );
  }
}

/**
 * `linear` (contract of core/ops/fused.ts): x (M, in) · weight (out, in)ᵀ + bias → out (M, out),
 * f32/f64, operands read in place where BLAS can (like matmul): the bias is written into every
 * row of the output, then one GEMM adds the product to it (beta = 1).
 */
export const linear: KernelEntry = {
  supports(call: KernelCall): boolean {
    const [x, w, b] = call.inputs, [out] = call.outputs;
    if (!x || !w || !out || !state.load?.ok || x.ndim !== 2 || w.ndim !== 2) return false;
    const d = out.dtype;
    if ((d !== "f32" && d !== "f64") || x.dtype !== d || w.dtype !== d) return false;
    if (b && (b.dtype !== d || !isHost(b))) return false;
    if (!isHost(x) || !isHost(w) || !isHost(out) || !out.isContiguous) return false;
    const [M, K] = x.shape, N = w.shape[0];
    return matLayout(M, K, x.strides[0], x.strides[1]) !== null &&
      matLayout(N, K, w.strides[0], w.strides[1]) !== null;
  },
  run(call: KernelCall): void {
    const [x, w, b] = call.inputs, [out] = call.outputs;
    const [M, K] = x.shape, N = w.shape[0];
    if (out.size === 0) return;
    const o = view(out);
    if (b) {
      // Row 0 from the bias, then doubling copies fill the other rows.
      const bv = view(b);
      for (let j = 0; j < N; j++) o[out.offset + j] = bv[b.offset + j * b.strides[0]];
      for (let r = 1; r < M; r *= 2) {
        o.copyWithin(out.offset + r * N, out.offset, out.offset + Math.min(r, M - r) * N);
      }
    } else if (K === 0) o.fill(0, out.offset, out.offset + M * N);
    if (K === 0) return;
    const la = matLayout(M, K, x.strides[0], x.strides[1])!;
    const lw = matLayout(N, K, w.strides[0], w.strides[1])!;
    const bytes = BYTES[out.dtype as "f32" | "f64"];
    // B = Wᵀ: the opposite of W's own flag over the same storage.
    const tb = lw.trans === CblasNoTrans ? CblasTrans : CblasNoTrans;
    blasGemm(
      out.dtype === "f64",
      la.trans,
      tb,
      M,
      N,
      K,
      1,
      at(storagePtr(x), x.offset, bytes),
      la.ld,
      at(storagePtr(w), w.offset, bytes),
      lw.ld,
      b ? 1 : 0,
      at(storagePtr(out), out.offset, bytes),
      N,
    );
  },
};
