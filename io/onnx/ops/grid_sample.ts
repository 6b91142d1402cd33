/**
 * ONNX `AffineGrid` and `GridSample` (nearest, linear, cubic; zeros, border and reflection padding; 1-3 spatial
 * axes): source coordinates from the grid with elementwise ops, then each interpolation tap is a
 * gather of flat indices weighted and summed, as the operator's reference defines it.
 *
 * @module
 */
import type { DType } from "../../../core/dtype.ts";
import { ShapeError } from "../../../core/errors.ts";
import * as B from "../../../core/ops/arithmetic.ts";
import * as C from "../../../core/ops/compare.ts";
import { fromTyped, full } from "../../../core/ops/creation.ts";
import { matmul } from "../../../core/ops/matmul.ts";
import { gather, where } from "../../../core/ops/indexing.ts";
import * as M from "../../../core/ops/math.ts";
import * as V from "../../../core/ops/view.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { attrNum, attrStr, defineOps, ints, need } from "./registry.ts";

type T = Tensor;
const f = (v: number) => full([], v, { dtype: "f64" });

function trunc(x: T): T {
  return B.mul(B.sign(x), M.floor(B.abs(x)));
}

/** Reflect x into [lo, hi] by the near border, repeatedly (the reference's _gs_reflect). */
function reflect(x: T, lo: number, hi: number): T {
  const rng = hi - lo;
  const below = C.lt(x, f(lo)), above = C.gt(x, f(hi));
  const dx = where(below, B.sub(f(lo), x), B.sub(x, f(hi)));
  const n = trunc(B.div(dx, f(rng)));
  const r = B.sub(dx, B.mul(n, f(rng)));
  const even = C.eq(B.mod(n, f(2)), f(0));
  const fromBelow = where(even, B.add(f(lo), r), B.sub(f(hi), r));
  const fromAbove = where(even, B.sub(f(hi), r), B.add(f(lo), r));
  return where(below, fromBelow, where(above, fromAbove, x));
}

function cubicCoeffs(t: T): T[] {
  const a = -0.75;
  const x = B.abs(t);
  const p = (u: T, k: number[]) => {
    // k: polynomial coefficients highest first
    let acc = f(k[0]);
    for (let i = 1; i < k.length; i++) acc = B.add(B.mul(acc, u), f(k[i]));
    return acc;
  };
  const x1 = B.add(x, f(1)), x2 = B.sub(f(1), x), x3 = B.sub(f(2), x);
  return [
    p(x1, [a, -5 * a, 8 * a, -4 * a]),
    p(x, [a + 2, -(a + 3), 0, 1]),
    p(x2, [a + 2, -(a + 3), 0, 1]),
    p(x3, [a, -5 * a, 8 * a, -4 * a]),
  ];
}

/** Normalized coordinates of `len` points: align_corners puts -1 and 1 on the end points. */
function base(len: number, align: boolean): number[] {
  return Array.from(
    { length: len },
    (_, i) => align ? (len === 1 ? 0 : -1 + (2 * i) / (len - 1)) : (2 * i + 1) / len - 1,
  );
}

defineOps({
  AffineGrid: (inp, ctx) => {
    const theta = need(inp, 0, ctx);
    const size = ints(need(inp, 1, ctx));
    const align = attrNum(ctx, "align_corners", 0) === 1;
    const sp = size.slice(2); // (H, W) or (D, H, W)
    const r = sp.length;
    // Homogeneous base points, x fastest: (x, y[, z], 1) for every output position.
    const axes = sp.map((len) => base(len, align)).reverse(); // x, y, z
    const total = sp.reduce((p, d) => p * d, 1);
    const pts = new Float64Array(total * (r + 1));
    for (let k = 0; k < total; k++) {
      let rem = k;
      for (let i = 0; i < r; i++) {
        const len = axes[i].length;
        pts[k * (r + 1) + i] = axes[i][rem % len];
        rem = Math.floor(rem / len);
      }
      pts[k * (r + 1) + r] = 1;
    }
    const P = fromTyped(pts, [total, r + 1], "f64");
    const y = matmul(P, V.transpose(V.astype(theta, "f64"), [0, 2, 1])); // (N, total, r)
    return [V.astype(V.reshape(y, [size[0], ...sp, r]), theta.dtype as DType)];
  },
  GridSample: (inp, ctx) => {
    const x = need(inp, 0, ctx), grid = need(inp, 1, ctx);
    const r = x.ndim - 2;
    if (r < 1 || r > 3 || grid.shape[grid.ndim - 1] !== r) {
      throw new ShapeError(
        `GridSample "${ctx.node.name}": input [${x.shape}] and grid [${grid.shape}] do not fit.`,
      );
    }
    const modeRaw = attrStr(ctx, "mode", ctx.opset < 20 ? "bilinear" : "linear");
    const mode = modeRaw === "bilinear" ? "linear" : modeRaw === "bicubic" ? "cubic" : modeRaw;
    const pad = attrStr(ctx, "padding_mode", "zeros");
    const align = attrNum(ctx, "align_corners", 0) === 1;
    const [n, c] = x.shape;
    const dims = x.shape.slice(2);
    const outSp = grid.shape.slice(1, -1);
    const q = outSp.reduce((p, d) => p * d, 1);
    const g = V.reshape(V.astype(grid, "f64"), [n, q, r]);
    // Per spatial axis i: source coordinate over (N, Q), with taps and weights.
    const taps: { idx: T[]; w: T[] }[] = dims.map((len, i) => {
      const lo = align ? 0 : -0.5, hi = align ? len - 1 : len - 0.5;
      const gi = V.select(g, 2, r - 1 - i);
      let xi = align
        ? B.mul(B.div(B.add(gi, f(1)), f(2)), f(len - 1))
        : B.div(B.sub(B.mul(B.add(gi, f(1)), f(len)), f(1)), f(2));
      if (mode === "nearest") xi = M.round(xi);
      const out = C.logicalOr(C.lt(xi, f(lo)), C.gt(xi, f(hi)));
      if (pad === "border") xi = where(out, B.minimum(B.maximum(xi, f(0)), f(len - 1)), xi);
      else if (pad === "reflection") xi = where(out, reflect(xi, lo, hi), xi);
      if (mode === "nearest") return { idx: [trunc(xi)], w: [f(1)] };
      const x0 = M.floor(xi), t = B.sub(xi, x0);
      if (mode === "linear") {
        return { idx: [x0, B.add(x0, f(1))], w: [B.sub(f(1), B.abs(t)), B.abs(t)] };
      }
      return { idx: [-1, 0, 1, 2].map((k) => B.add(x0, f(k))), w: cubicCoeffs(t) };
    });
    const xf = V.reshape(V.contiguous(V.astype(x, "f64")), [n, c, -1]);
    const strides = dims.map((_, i) => dims.slice(i + 1).reduce((p, d) => p * d, 1));
    let acc: T | null = null;
    const combo = (axis: number, flat: T, weight: T, valid: T | null): void => {
      if (axis === r) {
        const ix = V.contiguous(V.broadcastTo(V.unsqueeze(V.astype(flat, "i64"), 1), [n, c, q]));
        let v = gather(xf, 2, ix);
        if (valid !== null) v = where(V.unsqueeze(valid, 1), v, f(0));
        const term = B.mul(v, V.unsqueeze(weight, 1));
        acc = acc === null ? term : B.add(acc, term);
        return;
      }
      const len = dims[axis];
      const lo = align ? 0 : -0.5, hi = align ? len - 1 : len - 0.5;
      taps[axis].idx.forEach((raw, k) => {
        let i = raw, ok = valid;
        if (pad === "zeros") {
          const inside = C.logicalAnd(C.ge(raw, f(0)), C.lt(raw, f(len)));
          ok = ok === null ? inside : C.logicalAnd(ok, inside);
          i = B.minimum(B.maximum(raw, f(0)), f(len - 1));
        } else if (pad === "border") i = B.minimum(B.maximum(raw, f(0)), f(len - 1));
        else i = B.minimum(B.maximum(trunc(reflect(raw, lo, hi)), f(0)), f(len - 1));
        combo(
          axis + 1,
          B.add(flat, B.mul(i, f(strides[axis]))),
          B.mul(weight, taps[axis].w[k]),
          ok,
        );
      });
    };
    combo(0, full([n, q], 0, { dtype: "f64" }), full([n, q], 1, { dtype: "f64" }), null);
    const y = V.reshape(acc!, [n, c, ...outSp]);
    return [V.astype(y, x.dtype as DType)];
  },
});
