/**
 * The LU, Cholesky and QR members of the `linalg` namespace: `solve`, `inv`, `det`, `slogdet`,
 * `cholesky`, `qr`.
 *
 * @module
 */
import { scoped } from "../dispose.ts";
import { ComputeError, fmtShape, ShapeError } from "../errors.ts";
import { type OutSpec, runKernel } from "../op.ts";
import { broadcastShapesFor, contiguousStrides } from "../shape.ts";
import type { Tensor, TensorLike } from "../tensor.ts";
import { broadcastTo, unsqueeze } from "./view.ts";
import type { CholeskyOptions, QROptions, QRResult, SlogdetResult } from "./linalg.ts";
import { castTo, checkInfo, input, linalgDtype, matrixDims, squareInput } from "./linalg_args.ts";

export function solve(a: TensorLike, b: TensorLike): Tensor {
  return scoped((own) => {
    const ta = input("solve", a, own), tb = input("solve", b, own);
    const [, n] = matrixDims("solve", ta, true);
    const d = linalgDtype(ta, tb);
    if (tb.ndim === 0) {
      throw new ShapeError(
        `solve: b must have shape (n,) or (..., n, k), got a scalar (shape ()). Hint: wrap it ` +
          `in an array.`,
      );
    }
    const vector = tb.ndim === 1;
    const bm = vector ? unsqueeze(tb, 1) : tb;
    if (vector) own(bm);
    const nb = bm.shape[bm.ndim - 2], k = bm.shape[bm.ndim - 1];
    if (nb !== n) {
      throw new ShapeError(
        `solve: a ${fmtShape(ta.shape)} and b ${fmtShape(tb.shape)} do not fit: b needs ${n} ` +
          `rows (the length of ${vector ? "its only axis" : "its second-to-last axis"}), got ` +
          `${nb}. b is a vector only when 1-D; a stack of vectors must be (..., n, 1) ` +
          `(NumPy 2's rule). Hint: unsqueeze b's last axis.`,
      );
    }
    const batch = broadcastShapesFor(
      "solve",
      ta.shape.slice(0, -2),
      bm.shape.slice(0, -2),
    );
    const av = broadcastTo(castTo(ta, d, own), [...batch, n, n]);
    own(av);
    const bv = broadcastTo(castTo(bm, d, own), [...batch, n, k]);
    own(bv);
    const [x, info] = runKernel("linalg.solve", [av, bv], {}, [
      { shape: [...batch, n, k], dtype: d },
      { shape: batch, dtype: "i32" },
    ]);
    checkInfo(
      "solve",
      info,
      [...batch, n, n],
      [x],
      (c) => `is singular (pivot ${c} is 0); hint: use lstsq or pinv`,
    );
    if (!vector) return x;
    own(x);
    const shape = [...batch, n];
    return x.view(shape, contiguousStrides(shape), x.offset);
  });
}

export function inv(a: TensorLike): Tensor {
  return scoped((own) => {
    const [t, , d] = squareInput("inv", a, own);
    const [out, info] = runKernel("linalg.inv", [t], {}, [
      { shape: t.shape, dtype: d },
      { shape: t.shape.slice(0, -2), dtype: "i32" },
    ]);
    checkInfo(
      "inv",
      info,
      t.shape,
      [out],
      (c) => `is singular (pivot ${c} is 0); hint: use pinv for a pseudo-inverse`,
    );
    return out;
  });
}

export function det(a: TensorLike): Tensor {
  return scoped((own) => {
    const [t, , d] = squareInput("det", a, own);
    return runKernel("linalg.det", [t], {}, [{ shape: t.shape.slice(0, -2), dtype: d }])[0];
  });
}

export function slogdet(a: TensorLike): SlogdetResult {
  return scoped((own) => {
    const [t, , d] = squareInput("slogdet", a, own);
    const spec: OutSpec = { shape: t.shape.slice(0, -2), dtype: d };
    const [sign, logabsdet] = runKernel("linalg.slogdet", [t], {}, [spec, spec]);
    return { sign, logabsdet };
  });
}

export function cholesky(a: TensorLike, options: CholeskyOptions = {}): Tensor {
  return scoped((own) => {
    const [t, , d] = squareInput("cholesky", a, own);
    const upper = options.upper ?? false;
    const [out, info] = runKernel("linalg.cholesky", [t], { upper }, [
      { shape: t.shape, dtype: d },
      { shape: t.shape.slice(0, -2), dtype: "i32" },
    ]);
    checkInfo(
      "cholesky",
      info,
      t.shape,
      [out],
      (c) =>
        `is not positive definite (its leading ${c}×${c} minor is not); hint: a Cholesky ` +
        `factor needs a symmetric positive-definite matrix (for semi-definite ones try eigh, ` +
        `or add a small multiple of the identity)`,
    );
    return out;
  });
}

export function qr(a: TensorLike, options: { mode: "r" }): { r: Tensor };
export function qr(a: TensorLike, options?: QROptions): QRResult;
export function qr(a: TensorLike, options: QROptions = {}): QRResult | { r: Tensor } {
  const mode = options.mode ?? "reduced";
  if (mode !== "reduced" && mode !== "complete" && mode !== "r") {
    throw new ComputeError(
      `qr: mode must be "reduced", "complete" or "r", got ${JSON.stringify(mode)}.`,
    );
  }
  return scoped((own) => {
    const t0 = input("qr", a, own);
    const [m, n] = matrixDims("qr", t0, false);
    const d = linalgDtype(t0);
    const t = castTo(t0, d, own);
    const batch = t.shape.slice(0, -2), k = Math.min(m, n);
    if (mode === "r") {
      const [r] = runKernel("linalg.qr", [t], { mode }, [{ shape: [...batch, k, n], dtype: d }]);
      return { r };
    }
    const qc = mode === "complete" ? m : k;
    const [q, r] = runKernel("linalg.qr", [t], { mode }, [
      { shape: [...batch, m, qc], dtype: d },
      { shape: [...batch, qc, n], dtype: d },
    ]);
    return { q, r };
  });
}
