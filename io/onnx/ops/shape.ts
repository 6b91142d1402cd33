/**
 * ONNX shape, view and indexing operators on our ops: Reshape, Transpose, Concat, Split,
 * Slice, Gather*, Scatter*, Expand, Tile, Pad, Constant, Range, OneHot, Trilu, and friends.
 *
 * @module
 */
import type { DType } from "../../../core/dtype.ts";
import { ShapeError } from "../../../core/errors.ts";
import * as B from "../../../core/ops/arithmetic.ts";
import * as C from "../../../core/ops/compare.ts";
import { arange, fromTyped, full, tensor, zeros } from "../../../core/ops/creation.ts";
import { gather, scatter, scatterAdd, take, where } from "../../../core/ops/indexing.ts";
import { concat, pad, type PadMode, split, tile } from "../../../core/ops/join.ts";
import { sum } from "../../../core/ops/reduce.ts";
import * as V from "../../../core/ops/view.ts";
import { concatSmall } from "./small.ts";
import { transposeFast } from "./transpose.ts";
import { broadcastShapes } from "../../../core/shape.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { uploadSync } from "../placement.ts";
import { scatterElementsReduce, scatterNDReduce } from "./scatter_reduce.ts";
import {
  attrNum,
  attrNums,
  attrStr,
  attrTensor,
  axisOf,
  defineOps,
  floats,
  ints,
  need,
  type OpContext,
} from "./registry.ts";

type T = Tensor;

/** Axes from the input `i` (newer opsets) or the attribute "axes" (older ones). */
export function axesArg(inp: (T | undefined)[], i: number, ctx: OpContext): number[] | undefined {
  const t = inp[i];
  if (t !== undefined) return ints(t);
  return attrNums(ctx, "axes");
}

function i64(values: number[], shape = [values.length]): T {
  return fromTyped(BigInt64Array.from(values, (v) => BigInt(v)), shape, "i64");
}

/** Indices made non-negative along an axis of length `n`. */
function wrapIndex(idx: T, n: number): T {
  return where(C.lt(idx, 0), B.add(idx, n), idx);
}

/**
 * Gather with indices on the CPU from data on a device (a GPU session keeps indices computed
 * from shapes on the CPU): the rows picked as views of the data, stacked on the device.
 */
function gatherHostIndices(x: T, idx: T, a: number, ctx: OpContext): T {
  const n = x.shape[a];
  const rows = ints(idx).map((v) => {
    if (v < -n || v >= n) {
      throw new ShapeError(
        `Gather "${ctx.node.name}": index ${v} is out of range for axis ${a} of length ${n}.`,
      );
    }
    return v < 0 ? v + n : v;
  });
  if (idx.ndim === 0) return V.contiguous(V.select(x, a, rows[0]));
  const picked = concat(
    rows.map((r) =>
      V.slice(x, ...x.shape.slice(0, a).map(() => null), {
        start: r,
        stop: r + 1,
      })
    ),
    a,
  );
  return V.reshape(picked, [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)]);
}

function reshapeTo(x: T, spec: number[], allowZero: boolean, ctx: OpContext): T {
  const shape = spec.map((d, i) => (d === 0 && !allowZero ? x.shape[i] : d));
  if (shape.some((d, i) => d === undefined || d < -1 || (d === -1 && shape.indexOf(-1) !== i))) {
    throw new ShapeError(
      `Reshape "${ctx.node.name}": bad target shape [${spec.join(", ")}] for input ` +
        `[${x.shape.join(", ")}].`,
    );
  }
  return V.reshape(x, shape);
}

function constantOf(ctx: OpContext): T {
  const t = attrTensor(ctx, "value");
  if (t !== undefined) return V.clone(t);
  const f = attrNum(ctx, "value_float");
  if (f !== undefined) return tensor(f, { dtype: "f32" });
  const fs = attrNums(ctx, "value_floats");
  if (fs !== undefined) return tensor(fs, { dtype: "f32" });
  const i = attrNum(ctx, "value_int");
  if (i !== undefined) return i64([i], []);
  const is = attrNums(ctx, "value_ints");
  if (is !== undefined) return i64(is);
  throw new ShapeError(`Constant "${ctx.node.name}": no supported value attribute.`);
}

function sliceOp(
  x: T,
  starts: number[],
  ends: number[],
  axes: number[] | undefined,
  steps: number[] | undefined,
  ctx: OpContext,
): T {
  const specs: V.SliceArg[] = x.shape.map(() => null);
  starts.forEach((s, k) => {
    const ax = axisOf(axes?.[k] ?? k, x.ndim, ctx);
    const step = steps?.[k] ?? 1;
    const n = x.shape[ax];
    // Clamp here: our slice follows Python, which the clamped values also satisfy.
    const clampS = (v: number) => Math.max(-n - 1, Math.min(n + 1, v));
    specs[ax] = { start: clampS(s), stop: clampS(ends[k]), step };
  });
  return V.slice(x, ...specs);
}

function depthSpace(x: T, b: number, toSpace: boolean, crd: boolean): T {
  const [n, c, h, w] = x.shape;
  if (toSpace) {
    const y = crd
      ? V.permute(V.reshape(x, [n, c / (b * b), b, b, h, w]), [0, 1, 4, 2, 5, 3])
      : V.permute(V.reshape(x, [n, b, b, c / (b * b), h, w]), [0, 3, 4, 1, 5, 2]);
    return V.reshape(V.contiguous(y), [n, c / (b * b), h * b, w * b]);
  }
  const perm = crd ? [0, 1, 3, 5, 2, 4] : [0, 3, 5, 1, 2, 4];
  const y = V.permute(V.reshape(x, [n, c, h / b, b, w / b, b]), perm);
  return V.reshape(V.contiguous(y), [n, c * b * b, h / b, w / b]);
}

defineOps({
  Constant: (_inp, ctx) => [constantOf(ctx)],
  Reshape: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const spec = ctx.opset < 5 ? attrNums(ctx, "shape", []) : ints(need(inp, 1, ctx));
    // Views: values are never written in place, and storage is reference-counted.
    return [reshapeTo(x, spec, attrNum(ctx, "allowzero", 0) === 1, ctx)];
  },
  Flatten: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const raw = attrNum(ctx, "axis", 1);
    const a = axisOf(raw < 0 ? raw + x.ndim : raw, x.ndim + 1, ctx);
    const outer = x.shape.slice(0, a).reduce((p, d) => p * d, 1);
    return [V.reshape(V.contiguous(x), [outer, x.size === 0 ? 0 : x.size / Math.max(outer, 1)])];
  },
  Transpose: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const perm = attrNums(ctx, "perm", x.shape.map((_, i) => x.ndim - 1 - i));
    return [transposeFast(x, perm) ?? V.contiguous(V.permute(x, perm))];
  },
  Squeeze: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const axes = axesArg(inp, 1, ctx);
    return [axes === undefined ? V.squeeze(x) : V.squeeze(x, axes)];
  },
  Unsqueeze: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const axes = axesArg(inp, 1, ctx) ?? [];
    const r = x.ndim + axes.length;
    const norm = axes.map((a) => axisOf(a, r, ctx)).sort((a, b) => a - b);
    const shape = [...x.shape];
    for (const a of norm) shape.splice(a, 0, 1);
    return [V.reshape(x, shape)];
  },
  Shape: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const r = x.ndim;
    const clampA = (v: number) => Math.max(0, Math.min(r, v < 0 ? v + r : v));
    const s = clampA(attrNum(ctx, "start", 0)), e = clampA(attrNum(ctx, "end", r));
    return [i64(x.shape.slice(s, Math.max(s, e)))];
  },
  Size: (inp, ctx) => [i64([need(inp, 0, ctx).size], [])],
  Expand: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const shape = broadcastShapes(x.shape, ints(need(inp, 1, ctx)));
    return [V.contiguous(V.broadcastTo(x, shape))];
  },
  Tile: (inp, ctx) => [tile(need(inp, 0, ctx), ints(need(inp, 1, ctx)))],
  Concat: (inp, ctx) => {
    const xs = inp.filter((t): t is T => t !== undefined);
    const a = axisOf(attrNum(ctx, "axis", 0), xs[0].ndim, ctx);
    return [concatSmall(xs, a) ?? concat(xs, a)];
  },
  Split: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const a = axisOf(attrNum(ctx, "axis", 0), x.ndim, ctx);
    const n = x.shape[a];
    let sizes = inp[1] !== undefined ? ints(inp[1]) : attrNums(ctx, "split");
    const outs = ctx.node.outputs.length;
    if (sizes === undefined) {
      const k = attrNum(ctx, "num_outputs", outs);
      const chunk = Math.ceil(n / k);
      sizes = Array.from({ length: k }, (_, i) => Math.max(0, Math.min(chunk, n - i * chunk)));
    }
    const points: number[] = [];
    let acc = 0;
    for (const s of sizes.slice(0, -1)) points.push(acc += s);
    return split(x, points, a).map((t) => V.contiguous(t));
  },
  Slice: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    if (ctx.opset < 10) {
      return [
        V.contiguous(
          sliceOp(
            x,
            attrNums(ctx, "starts", []),
            attrNums(ctx, "ends", []),
            attrNums(ctx, "axes"),
            undefined,
            ctx,
          ),
        ),
      ];
    }
    const starts = ints(need(inp, 1, ctx)), ends = ints(need(inp, 2, ctx));
    const axes = inp[3] === undefined ? undefined : ints(inp[3]);
    const steps = inp[4] === undefined ? undefined : ints(inp[4]);
    return [V.contiguous(sliceOp(x, starts, ends, axes, steps, ctx))];
  },
  Gather: (inp, ctx) => {
    const x = need(inp, 0, ctx), idx = need(inp, 1, ctx);
    const a = axisOf(attrNum(ctx, "axis", 0), x.ndim, ctx);
    if (idx.device === "cpu" && x.device !== "cpu") return [gatherHostIndices(x, idx, a, ctx)];
    if (idx.ndim === 0 && idx.device === "cpu") {
      // One index: a view of the slice (no index tensors, no copy).
      const n = x.shape[a], v = ints(idx)[0];
      if (v < -n || v >= n) {
        throw new ShapeError(
          `Gather "${ctx.node.name}": index ${v} is out of range for axis ${a} of length ${n}.`,
        );
      }
      return [V.select(x, a, v < 0 ? v + n : v)];
    }
    return [take(x, wrapIndex(idx, x.shape[a]), a)];
  },
  GatherElements: (inp, ctx) => {
    const x = need(inp, 0, ctx), idx = need(inp, 1, ctx);
    const a = axisOf(attrNum(ctx, "axis", 0), x.ndim, ctx);
    return [gather(x, a, wrapIndex(idx, x.shape[a]))];
  },
  ScatterElements: (inp, ctx) => {
    const x = need(inp, 0, ctx), idx = need(inp, 1, ctx), src = need(inp, 2, ctx);
    const a = axisOf(attrNum(ctx, "axis", 0), x.ndim, ctx);
    const red = attrStr(ctx, "reduction", "none");
    const i = wrapIndex(idx, x.shape[a]);
    if (red === "add") return [scatterAdd(x, a, i, src)];
    if (red !== "none") return [scatterElementsReduce(x, a, i, src, red)];
    return [scatter(x, a, i, src)];
  },
  GatherND: (inp, ctx) => {
    const x = need(inp, 0, ctx), idx = need(inp, 1, ctx);
    const bd = attrNum(ctx, "batch_dims", 0);
    if (!(bd >= 0 && bd < Math.min(x.ndim, idx.ndim))) {
      throw new ShapeError(
        `GatherND "${ctx.node.name}": batch_dims ${bd} must be in [0, ${
          Math.min(x.ndim, idx.ndim)
        }) for data ${JSON.stringify(x.shape)} and indices ${JSON.stringify(idx.shape)}.`,
      );
    }
    // Batch axes (the first bd of both) fold into one; row numbers are offset per batch entry.
    const k = idx.shape[idx.ndim - 1];
    const batch = x.shape.slice(0, bd), nb = batch.reduce((p, d) => p * d, 1);
    const lead = x.shape.slice(bd, bd + k), rest = x.shape.slice(bd + k);
    const per = lead.reduce((p, d) => p * d, 1);
    const strides = lead.map((_, i) => lead.slice(i + 1).reduce((p, d) => p * d, 1));
    const wrapped = where(C.lt(idx, 0), B.add(idx, i64(lead)), idx);
    let flat = sum(B.mul(wrapped, i64(strides)), -1); // (batch..., m...)
    if (bd > 0) {
      const mid = idx.shape.slice(bd, -1);
      const off = V.reshape(B.mul(arange(0, nb, 1, { dtype: "i64" }), per), [
        ...batch,
        ...mid.map(() => 1),
      ]);
      flat = B.add(flat, off);
    }
    const xf = V.reshape(V.contiguous(x), [nb * per, ...rest]);
    return [take(xf, flat, 0)];
  },
  ScatterND: (inp, ctx) => {
    const x = need(inp, 0, ctx), idx = need(inp, 1, ctx), upd = need(inp, 2, ctx);
    const red = attrStr(ctx, "reduction", "none");
    const k = idx.shape[idx.ndim - 1];
    const lead = x.shape.slice(0, k), rest = x.shape.slice(k);
    const strides = lead.map((_, i) => lead.slice(i + 1).reduce((p, d) => p * d, 1));
    const flat = V.reshape(sum(B.mul(idx, i64(strides)), -1), [-1]);
    const rows = lead.reduce((p, d) => p * d, 1), cols = rest.reduce((p, d) => p * d, 1);
    const xf = V.reshape(V.contiguous(x), [rows, cols]);
    const uf = V.reshape(V.contiguous(upd), [flat.size, cols]);
    const ix = V.contiguous(V.broadcastTo(V.reshape(flat, [flat.size, 1]), [flat.size, cols]));
    if (red !== "none" && red !== "add") {
      return [V.reshape(scatterNDReduce(xf, flat, uf, cols, red), x.shape)];
    }
    const out = red === "add" ? scatterAdd(xf, 0, ix, uf) : scatter(xf, 0, ix, uf);
    return [V.reshape(out, x.shape)];
  },
  ConstantOfShape: (inp, ctx) => {
    const shape = ints(need(inp, 0, ctx));
    const v = attrTensor(ctx, "value");
    if (v === undefined) return [zeros(shape, { dtype: "f32" })];
    const val = floats(v)[0];
    return [full(shape, v.dtype === "bool" ? val !== 0 : val, { dtype: v.dtype as DType })];
  },
  Range: (inp, ctx) => {
    const s = need(inp, 0, ctx), l = need(inp, 1, ctx), d = need(inp, 2, ctx);
    const [a, b, c] = [floats(s)[0], floats(l)[0], floats(d)[0]];
    const n = Math.max(Math.ceil((b - a) / c), 0);
    const r = arange(0, n, 1, { dtype: s.dtype as DType });
    return [V.astype(B.add(B.mul(r, d), s), s.dtype as DType)];
  },
  OneHot: (inp, ctx) => {
    const idx = need(inp, 0, ctx), depth = floats(need(inp, 1, ctx))[0];
    const values = need(inp, 2, ctx);
    const r = idx.ndim + 1;
    const a = axisOf(attrNum(ctx, "axis", -1), r, ctx);
    const wrapped = where(C.lt(idx, 0), B.add(idx, depth), idx);
    const shape = Array.from({ length: r }, (_, i) => (i === a ? depth : 1));
    const classes = V.reshape(arange(0, depth, 1, { dtype: "f64" }), shape);
    const hot = C.eq(V.unsqueeze(V.astype(wrapped, "f64"), a), classes);
    const [off, on] = [V.select(values, 0, 0), V.select(values, 0, 1)];
    return [where(hot, on, off)];
  },
  Trilu: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const k = inp[1] === undefined ? 0 : ints(inp[1])[0];
    const [m, n] = x.shape.slice(-2);
    const i = V.reshape(arange(0, m, 1, { dtype: "i64" }), [m, 1]);
    const j = V.reshape(arange(0, n, 1, { dtype: "i64" }), [1, n]);
    const d = B.sub(j, i);
    const keep = attrNum(ctx, "upper", 1) ? C.ge(d, k) : C.le(d, k);
    if (x.device !== "cpu") {
      // The mask is built on the CPU: its copy and a zero on the data's device.
      const zero = zeros([], { dtype: x.dtype as DType });
      return [where(uploadSync(keep, x.device), x, uploadSync(zero, x.device))];
    }
    return [V.astype(where(keep, x, 0), x.dtype as DType)];
  },
  DepthToSpace: (inp, ctx) => {
    const crd = attrStr(ctx, "mode", "DCR") === "CRD";
    return [depthSpace(need(inp, 0, ctx), attrNum(ctx, "blocksize", 1), true, crd)];
  },
  SpaceToDepth: (
    inp,
    ctx,
  ) => [
    depthSpace(
      need(inp, 0, ctx),
      attrNum(ctx, "blocksize", 1),
      false,
      attrStr(ctx, "mode", "DCR") === "CRD",
    ),
  ],
  Pad: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const mode = attrStr(ctx, "mode", "constant");
    let pads: number[], value = 0;
    if (ctx.opset < 11) {
      pads = attrNums(ctx, "pads", []);
      value = attrNum(ctx, "value", 0);
    } else {
      pads = ints(need(inp, 1, ctx));
      if (inp[2] !== undefined && inp[2].size > 0) value = floats(inp[2])[0];
    }
    const axes = inp[3] === undefined
      ? x.shape.map((_, i) => i)
      : ints(inp[3]).map((a) => axisOf(a, x.ndim, ctx));
    const widths: [number, number][] = x.shape.map(() => [0, 0]);
    axes.forEach((a, k) => (widths[a] = [pads[k], pads[k + axes.length]]));
    // Negative pads crop.
    let y = x;
    if (widths.some(([b, e]) => b < 0 || e < 0)) {
      y = V.slice(
        y,
        ...widths.map(([b, e], i) => ({
          start: Math.max(0, -b),
          stop: x.shape[i] - Math.max(0, -e),
        })),
      );
    }
    const pw = widths.map(([b, e]) => [Math.max(0, b), Math.max(0, e)]);
    const m: PadMode = mode === "reflect"
      ? "reflect"
      : mode === "edge"
      ? "edge"
      : mode === "wrap"
      ? "wrap"
      : "constant";
    return [pad(y, pw, { mode: m, value: x.dtype === "bool" ? value !== 0 : value })];
  },
});
