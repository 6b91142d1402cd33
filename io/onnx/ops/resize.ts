/**
 * ONNX `Resize` (and the older `Upsample`): separable interpolation, one axis at a time, as a
 * weighted sum of gathered neighbours. Tap positions and weights are computed per output index on
 * the host (they depend only on shapes and attributes); the data work is our take/mul/add.
 * Nearest, linear and cubic modes, every coordinate transformation mode, antialiasing,
 * `exclude_outside`, axes and `keep_aspect_ratio_policy`, as the operator spec defines them.
 *
 * @module
 */
import { type DType, isFloat } from "../../../core/dtype.ts";
import { ShapeError } from "../../../core/errors.ts";
import * as B from "../../../core/ops/arithmetic.ts";
import { fromTyped, full } from "../../../core/ops/creation.ts";
import { take, where } from "../../../core/ops/indexing.ts";
import { clip } from "../../../core/ops/activation.ts";
import * as M from "../../../core/ops/math.ts";
import * as V from "../../../core/ops/view.ts";
import type { Tensor } from "../../../core/tensor.ts";
import {
  attrNum,
  attrNums,
  attrStr,
  axisOf,
  defineOps,
  floats,
  ints,
  need,
  type OpContext,
} from "./registry.ts";

type T = Tensor;
type Coeffs = (ratio: number, scale: number) => number[];

function nearestCoeffs(mode: string): Coeffs {
  return (r) => {
    if (Number.isInteger(r)) return [0, 1];
    switch (mode) {
      case "round_prefer_ceil":
        return [r < 0.5 ? 1 : 0, r >= 0.5 ? 1 : 0];
      case "floor":
        return [1, 0];
      case "ceil":
        return [0, 1];
      default:
        return [r <= 0.5 ? 1 : 0, r > 0.5 ? 1 : 0];
    }
  };
}

function cubicCoeffs(a: number, antialias: boolean): Coeffs {
  if (!antialias) {
    return (r) => [
      ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
      ((a + 2) * r - (a + 3)) * r * r + 1,
      ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
      ((a * (2 - r) - 5 * a) * (2 - r) + 8 * a) * (2 - r) - 4 * a,
    ];
  }
  return (r, scale) => {
    const s = Math.min(scale, 1);
    const f = (x: number) => {
      x = Math.abs(x);
      if (x <= 1) return (a + 2) * x ** 3 - (a + 3) * x * x + 1;
      if (x < 2) return a * x ** 3 - 5 * a * x * x + 8 * a * x - 4 * a;
      return 0;
    };
    const start = Math.floor(-2 / s) + 1, end = 2 - start;
    const c: number[] = [];
    for (let i = start; i < end; i++) c.push(f(s * (i - r)));
    const sum = c.reduce((p, v) => p + v, 0);
    return c.map((v) => v / sum);
  };
}

function linearCoeffs(antialias: boolean): Coeffs {
  if (!antialias) return (r) => [1 - r, r];
  return (r, scale) => {
    const s = Math.min(scale, 1);
    const start = Math.floor(-1 / s) + 1, foot = 2 - 2 * start;
    const c: number[] = [];
    for (let i = start; i < start + foot; i++) {
      c.push(Math.max(0, Math.min(1, 1 - Math.abs((i - r) * s))));
    }
    const sum = c.reduce((p, v) => p + v, 0);
    return c.map((v) => v / sum);
  };
}

interface AxisPlan {
  /** Output length. */
  out: number;
  /** Per tap k: source index per output position. */
  idx: number[][];
  /** Per tap k: weight per output position. */
  w: number[][];
  /** Output positions that take the extrapolation value. */
  extrap: boolean[] | null;
}

function sourceCoord(
  mode: string,
  y: number,
  scale: number,
  n: number,
  outF: number,
  outI: number,
  roi: [number, number] | null,
): number {
  switch (mode) {
    case "align_corners":
      return outF === 1 ? 0 : (y * (n - 1)) / (outF - 1);
    case "asymmetric":
      return y / scale;
    case "tf_crop_and_resize": {
      const [r0, r1] = roi ?? [0, 1];
      const x = outF === 1 ? ((r1 - r0) * (n - 1)) / 2 : (y * (r1 - r0) * (n - 1)) / (outF - 1);
      return x + r0 * (n - 1);
    }
    case "pytorch_half_pixel":
      return outF === 1 ? -0.5 : (y + 0.5) / scale - 0.5;
    case "half_pixel_symmetric": {
      const adj = outI / outF;
      return (n / 2) * (1 - adj) + (y + 0.5) / scale - 0.5;
    }
    default:
      return (y + 0.5) / scale - 0.5;
  }
}

function planAxis(
  n: number,
  scale: number,
  outI: number,
  coeffs: Coeffs,
  mode: string,
  roi: [number, number] | null,
  excludeOutside: boolean,
): AxisPlan {
  const outF = scale * n;
  const ratioOf = (x: number) => (Number.isInteger(x) ? 1 : x - Math.floor(x));
  const x0 = sourceCoord(mode, 0, scale, n, outF, outI, roi);
  const taps = coeffs(ratioOf(x0), scale).length;
  const idx = Array.from({ length: taps }, () => new Array<number>(outI));
  const w = Array.from({ length: taps }, () => new Array<number>(outI));
  const extrap = mode === "tf_crop_and_resize" ? new Array<boolean>(outI) : null;
  const pad = Math.ceil(taps / 2);
  for (let y = 0; y < outI; y++) {
    const x = sourceCoord(mode, y, scale, n, outF, outI, roi);
    let c = coeffs(ratioOf(x), scale);
    const xp = x + pad, p = Math.floor(xp), frac = xp - p;
    const off = taps % 2 === 0
      ? (frac === 0 ? -(taps / 2) : -(taps / 2) + 1)
      : (frac <= 0.5 ? -((taps - 1) / 2) : -((taps - 1) / 2) + 1);
    const first = p + off - pad;
    if (excludeOutside) {
      c = c.map((v, k) => (first + k < 0 || first + k >= n ? 0 : v));
      const s = c.reduce((a, b) => a + b, 0) || 1;
      c = c.map((v) => v / s);
    }
    for (let k = 0; k < taps; k++) {
      idx[k][y] = Math.max(0, Math.min(n - 1, first + k));
      w[k][y] = c[k];
    }
    if (extrap) extrap[y] = x < 0 || x > n - 1;
  }
  return { out: outI, idx, w, extrap };
}

function applyAxis(x: T, axis: number, p: AxisPlan, extrapolation: number): T {
  const shape = x.shape.map((_, i) => (i === axis ? p.out : 1));
  let acc: T | null = null;
  p.idx.forEach((ix, k) => {
    if (p.w[k].every((v) => v === 0)) return;
    const g = take(x, fromTyped(Int32Array.from(ix), [ix.length], "i32"), axis);
    const term = B.mul(g, fromTyped(Float64Array.from(p.w[k]), shape, "f64"));
    acc = acc === null ? term : B.add(acc, term);
  });
  let y: T = acc ??
    B.mul(
      take(x, fromTyped(Int32Array.from(p.idx[0]), [p.out], "i32"), axis),
      full([], 0, { dtype: "f64" }),
    );
  if (p.extrap !== null && p.extrap.some((e) => e)) {
    const m = fromTyped(Uint8Array.from(p.extrap, (e) => (e ? 1 : 0)), shape, "bool");
    y = where(m, full([], extrapolation, { dtype: "f64" }), y);
  }
  return y;
}

function resize(inp: (T | undefined)[], ctx: OpContext, legacyScales?: T): T[] {
  const x = need(inp, 0, ctx);
  const r = x.ndim;
  const mode = attrStr(ctx, "mode", "nearest");
  const antialias = attrNum(ctx, "antialias", 0) === 1;
  const coord = ctx.opset < 11 || legacyScales
    ? "asymmetric"
    : attrStr(ctx, "coordinate_transformation_mode", "half_pixel");
  const coeffs = mode === "nearest"
    ? nearestCoeffs(
      // Upsample repeats each element (floor); Resize-10 rounds half down like Resize-11.
      legacyScales ? "floor" : attrStr(ctx, "nearest_mode", "round_prefer_floor"),
    )
    : mode === "cubic"
    ? cubicCoeffs(attrNum(ctx, "cubic_coeff_a", -0.75), antialias)
    : mode === "linear" || mode === "bilinear"
    ? linearCoeffs(antialias)
    : null;
  if (coeffs === null) throw new ShapeError(`Resize "${ctx.node.name}": unknown mode "${mode}".`);
  const axes = (attrNums(ctx, "axes") ?? x.shape.map((_, i) => i)).map((a) => axisOf(a, r, ctx));
  const scalesT = legacyScales ?? (ctx.opset < 11 ? inp[1] : inp[2]);
  const sizesT = ctx.opset < 11 ? undefined : inp[3];
  const roiT = ctx.opset < 11 ? undefined : inp[1];
  let roi: number[] | null = roiT !== undefined && roiT.size > 0 ? floats(roiT) : null;
  let scales: number[];
  let sizes: number[];
  if (sizesT !== undefined && sizesT.size > 0) {
    const given = ints(sizesT);
    sizes = [...x.shape];
    axes.forEach((a, i) => (sizes[a] = given[i]));
    scales = sizes.map((s, i) => s / x.shape[i]);
    const policy = attrStr(ctx, "keep_aspect_ratio_policy", "stretch");
    if (policy !== "stretch") {
      const sel = axes.map((a) => scales[a]);
      const s = policy === "not_larger" ? Math.min(...sel) : Math.max(...sel);
      scales = x.shape.map((_, i) => (axes.includes(i) ? s : 1));
      sizes = x.shape.map((d, i) => (axes.includes(i) ? Math.floor(s * d + 0.5) : d));
    }
  } else if (scalesT !== undefined && scalesT.size > 0) {
    const given = floats(scalesT);
    scales = x.shape.map(() => 1);
    axes.forEach((a, i) => (scales[a] = given[i]));
    sizes = x.shape.map((d, i) => Math.floor(scales[i] * d));
  } else {
    throw new ShapeError(`Resize "${ctx.node.name}": needs scales or sizes.`);
  }
  if (roi !== null && roi.length === 2 * axes.length && axes.length !== r) {
    const full2 = [...Array(r).fill(0), ...Array(r).fill(1)];
    axes.forEach((a, i) => {
      full2[a] = roi![i];
      full2[r + a] = roi![axes.length + i];
    });
    roi = full2;
  }
  const extrapolation = attrNum(ctx, "extrapolation_value", 0);
  const exclude = attrNum(ctx, "exclude_outside", 0) === 1;
  let y = V.astype(x, "f64");
  for (const a of axes) {
    const axisRoi: [number, number] | null = roi === null ? null : [roi[a], roi[a + r]];
    const trivial = Math.abs(scales[a] - 1) < 1e-9 && sizes[a] === y.shape[a] &&
      (axisRoi === null || (axisRoi[0] === 0 && axisRoi[1] === 1));
    if (trivial) continue;
    const plan = planAxis(y.shape[a], scales[a], sizes[a], coeffs, coord, axisRoi, exclude);
    y = applyAxis(y, a, plan, extrapolation);
  }
  const d = x.dtype as DType;
  if (isFloat(d)) return [V.astype(y, d)];
  return [V.astype(clip(M.round(y), null, null), d)];
}

defineOps({
  Resize: (inp, ctx) => resize(inp, ctx),
  Upsample: (inp, ctx) => {
    const scales = ctx.opset < 9 ? undefined : need(inp, 1, ctx);
    if (scales === undefined) {
      const s = attrNums(ctx, "scales", []);
      return resize(inp, ctx, fromTyped(Float32Array.from(s), [s.length], "f32"));
    }
    return resize(inp, ctx, scales);
  },
});
