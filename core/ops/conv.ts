/**
 * Convolution and pooling with PyTorch's semantics and layout (NCHW / NCL): `conv1d`, `conv2d`,
 * `maxPool2d`, `avgPool2d`. Input may be batched (N, C, ...) or unbatched (C, ...), like PyTorch.
 *
 * @module
 */
import { DTypeError, fmtShape, ShapeError } from "../errors.ts";
import { checkDType } from "../dtype.ts";
import { resultType } from "../promote.ts";
import { runKernel1 } from "../op.ts";
import type { Tensor, TensorLike } from "../tensor.ts";
import { asTensor } from "./creation.ts";
import { reshape } from "./view.ts";
import { disposeAll, type Own, scoped } from "../dispose.ts";
import { ownHalf } from "../autocast.ts";

/** A conv's operands inside an autocast scope: half precision (core/autocast.ts), owned. */
function halfOperands(
  own: Own,
  x: Tensor,
  w: Tensor,
  b: Tensor | null,
): [Tensor, Tensor, Tensor | null] {
  return [ownHalf(own, x), ownHalf(own, w), b && ownHalf(own, b)];
}

/** A length per spatial axis: one number for every axis, or one per axis. */
export type SpatialArg = number | readonly [number, number];

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Added to each output channel: shape (C_out,). */
  bias?: TensorLike | null;
  /** Step between output positions (default 1). */
  stride?: SpatialArg;
  /**
   * Zero padding on both sides of each spatial axis (default 0); `"valid"` is 0, `"same"` pads so
   * the output has the input's size (stride 1 only; an odd total puts the extra on the right).
   */
  padding?: SpatialArg | "same" | "valid";
  /** Spacing between kernel taps (default 1). */
  dilation?: SpatialArg;
  /** Split channels into this many independent groups (default 1). */
  groups?: number;
}

/** Options of {@link conv1d}. */
export interface Conv1dOptions {
  /** Added to each output channel: shape (C_out,). */
  bias?: TensorLike | null;
  /** Step between output positions (default 1). */
  stride?: number;
  /** Zero padding on both ends (default 0), `"valid"` (0) or `"same"` (see {@link Conv2dOptions}). */
  padding?: number | "same" | "valid";
  /** Spacing between kernel taps (default 1). */
  dilation?: number;
  /** Split channels into this many independent groups (default 1). */
  groups?: number;
}

/** Options of {@link maxPool2d}. */
export interface MaxPool2dOptions {
  /** Window size. */
  kernelSize: SpatialArg;
  /** Step between windows (default: the kernel size). */
  stride?: SpatialArg | null;
  /** Implicit padding on both sides, at most half the kernel size (default 0). */
  padding?: SpatialArg;
  /** Spacing between window taps (default 1). */
  dilation?: SpatialArg;
  /** Round the output size up, so a last partial window counts (default false). */
  ceilMode?: boolean;
}

/** Options of {@link avgPool2d}. */
export interface AvgPool2dOptions {
  /** Window size. */
  kernelSize: SpatialArg;
  /** Step between windows (default: the kernel size). */
  stride?: SpatialArg | null;
  /** Implicit zero padding on both sides, at most half the kernel size (default 0). */
  padding?: SpatialArg;
  /** Round the output size up, so a last partial window counts (default false). */
  ceilMode?: boolean;
  /** Count padded zeros in each window's divisor (default true, like PyTorch). */
  countIncludePad?: boolean;
}

function pair(op: string, name: string, v: SpatialArg, min: number): [number, number] {
  const p: [number, number] = typeof v === "number"
    ? [v, v]
    : Array.isArray(v) && v.length === 2
    ? [v[0], v[1]]
    : [NaN, NaN];
  if (!p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new ShapeError(
      `${op}: ${name} must be an integer ≥ ${min} or a pair [h, w] of them, got ${
        JSON.stringify(v)
      }.`,
    );
  }
  return p;
}

function single(op: string, name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) {
    throw new ShapeError(`${op}: ${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}.`);
  }
  return v;
}

/**
 * 2-D convolution (cross-correlation, like PyTorch's `conv2d`): input (N, C_in, H, W) or
 * (C_in, H, W), weight (C_out, C_in / groups, KH, KW), optional bias (C_out,). Output
 * (N, C_out, OH, OW) with `OH = floor((H + 2·pad - dilation·(KH - 1) - 1) / stride) + 1`. The dtype
 * is the promotion of the operands' dtypes; the scalar backend accumulates in float64.
 *
 * @example
 * ```ts
 * import { conv2d, ones } from "@aprender/compute";
 * const y = conv2d(ones([1, 1, 4, 4]), ones([2, 1, 3, 3]), { padding: 1 });
 * console.log(y.shape); // [1, 2, 4, 4]
 * console.log(y.slice(0, 0, 0).toArraySync()); // [4, 6, 6, 4]
 * ```
 */
export function conv2d(x: TensorLike, weight: TensorLike, options: Conv2dOptions = {}): Tensor {
  const op = "conv2d";
  return scoped((own) => {
    const input = (t: TensorLike) => own(asTensor(t), t);
    const xt = input(x), wt = input(weight);
    const bt = options.bias === undefined || options.bias === null ? null : input(options.bias);
    const stride = pair(op, "stride", options.stride ?? 1, 1);
    const dilation = pair(op, "dilation", options.dilation ?? 1, 1);
    const groups = single(op, "groups", options.groups ?? 1, 1);
    let padding: [number, number, number, number];
    const pad = options.padding ?? 0;
    if (pad === "valid") padding = [0, 0, 0, 0];
    else if (pad === "same") {
      if (stride[0] !== 1 || stride[1] !== 1) {
        throw new ShapeError(
          `${op}: padding "same" needs stride 1, got stride ${JSON.stringify(stride)}. Hint: ` +
            `compute the padding yourself for strided convolutions.`,
        );
      }
      padding = [0, 0, 0, 0];
      if (wt.ndim === 4) {
        for (const ax of [0, 1]) {
          const total = dilation[ax] * (wt.shape[2 + ax] - 1);
          padding[2 * ax] = Math.floor(total / 2);
          padding[2 * ax + 1] = total - Math.floor(total / 2);
        }
      }
    } else {
      const p = pair(op, "padding", pad, 0);
      padding = [p[0], p[0], p[1], p[1]];
    }
    return convCore(op, ...halfOperands(own, xt, wt, bt), stride, padding, dilation, groups, 2);
  });
}

/**
 * 1-D convolution (PyTorch's `conv1d`): input (N, C_in, L) or (C_in, L), weight
 * (C_out, C_in / groups, K), optional bias (C_out,); output (N, C_out, L_out).
 *
 * @example
 * ```ts
 * import { conv1d, tensor } from "@aprender/compute";
 * const x = tensor([[[1, 2, 3, 4]]]);
 * console.log(conv1d(x, tensor([[[1, -1]]])).toArraySync()); // [[[-1, -1, -1]]]
 * ```
 */
export function conv1d(x: TensorLike, weight: TensorLike, options: Conv1dOptions = {}): Tensor {
  const op = "conv1d";
  return scoped((own) => {
    const input = (t: TensorLike) => own(asTensor(t), t);
    const xt = input(x), wt = input(weight);
    const bt = options.bias === undefined || options.bias === null ? null : input(options.bias);
    const stride = single(op, "stride", options.stride ?? 1, 1);
    const dilation = single(op, "dilation", options.dilation ?? 1, 1);
    const groups = single(op, "groups", options.groups ?? 1, 1);
    let padding: [number, number, number, number];
    const pad = options.padding ?? 0;
    if (pad === "valid") padding = [0, 0, 0, 0];
    else if (pad === "same") {
      if (stride !== 1) {
        throw new ShapeError(
          `${op}: padding "same" needs stride 1, got stride ${stride}. Hint: compute the ` +
            `padding yourself for strided convolutions.`,
        );
      }
      const total = wt.ndim === 3 ? dilation * (wt.shape[2] - 1) : 0;
      padding = [0, 0, Math.floor(total / 2), total - Math.floor(total / 2)];
    } else {
      const p = single(op, "padding", pad, 0);
      padding = [0, 0, p, p];
    }
    return convCore(
      op,
      ...halfOperands(own, xt, wt, bt),
      [1, stride],
      padding,
      [1, dilation],
      groups,
      1,
    );
  });
}

/** Validate and run a convolution of `dims` spatial axes (1 or 2) through the 2-D kernel. */
function convCore(
  op: string,
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  stride: [number, number],
  padding: [number, number, number, number],
  dilation: [number, number],
  groups: number,
  dims: 1 | 2,
): Tensor {
  for (const t of [x, w, bias]) if (t) checkDType(t.dtype, op); // block types: refused by name
  const names = dims === 2 ? "(N, C_in, H, W) or (C_in, H, W)" : "(N, C_in, L) or (C_in, L)";
  const wNames = dims === 2 ? "(C_out, C_in / groups, KH, KW)" : "(C_out, C_in / groups, K)";
  // Built only for an error message.
  const shapes = () =>
    `input of shape ${fmtShape(x.shape)} and weight of shape ${fmtShape(w.shape)}`;
  if (x.ndim !== dims + 1 && x.ndim !== dims + 2) {
    throw new ShapeError(
      `${op}: input of shape ${fmtShape(x.shape)} has ${x.ndim} axes; expected ${names}.`,
    );
  }
  if (w.ndim !== dims + 2) {
    throw new ShapeError(
      `${op}: weight of shape ${fmtShape(w.shape)} has ${w.ndim} axes; expected ${wNames}.`,
    );
  }
  const batched = x.ndim === dims + 2;
  const C = x.shape[batched ? 1 : 0], O = w.shape[0];
  if (C % groups !== 0 || O % groups !== 0) {
    throw new ShapeError(
      `${op}: ${shapes()}: groups=${groups} must divide both the input channels (${C}) and the ` +
        `output channels (${O}).`,
    );
  }
  if (w.shape[1] * groups !== C) {
    throw new ShapeError(
      `${op}: ${shapes()}: the input has ${C} channels but the weight expects weight.shape[1] × ` +
        `groups = ${w.shape[1]} × ${groups} = ${w.shape[1] * groups}. Hint: the weight's layout ` +
        `is ${wNames}.`,
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== O)) {
    throw new ShapeError(
      `${op}: bias of shape ${fmtShape(bias.shape)} does not fit ${O} output channels; ` +
        `expected shape (${O},).`,
    );
  }
  // Views onto (N, C, H, W) and (O, C/g, KH, KW).
  const owned: Tensor[] = [];
  try {
    // Reshapes that only add length-1 axes: zero-copy views with cheap gradient rules.
    const sp = x.shape.slice(batched ? 2 : 1);
    const xs = dims === 2 ? sp : [1, sp[0]];
    const xv = batched && dims === 2 ? x : reshape(x, [batched ? x.shape[0] : 1, C, ...xs]);
    if (xv !== x) owned.push(xv);
    const wv = dims === 2 ? w : reshape(w, [O, w.shape[1], 1, w.shape[2]]);
    if (wv !== w) owned.push(wv);
    const [, , H, W] = xv.shape, [, , KH, KW] = wv.shape;
    const out: number[] = [];
    const spans = [dilation[0] * (KH - 1) + 1, dilation[1] * (KW - 1) + 1];
    for (const ax of [0, 1]) {
      const len = [H, W][ax] + padding[2 * ax] + padding[2 * ax + 1];
      const span = spans[ax];
      if (span > len) {
        const k = dims === 2 ? spans.join("×") : `${spans[1]}`;
        throw new ShapeError(
          `${op}: ${shapes()}: the ${
            dilation[ax] > 1 ? "dilated " : ""
          }kernel (${k}) is larger than the padded input (length ${len} on ${
            dims === 2 ? ["H", "W"][ax] : "L"
          }). Hint: use a smaller kernel, or add padding.`,
        );
      }
      out.push(Math.floor((len - span) / stride[ax]) + 1);
    }
    const dtype = resultType(x.dtype, w.dtype, ...(bias ? [bias.dtype] : []));
    const r = runKernel1(
      "conv2d",
      bias ? [xv, wv, bias] : [xv, wv],
      { stride, padding, dilation, groups, hasBias: bias !== null },
      // Every conv2d kernel writes each output element (the dispatcher skips the zero-fill).
      { shape: [xv.shape[0], O, out[0], out[1]], dtype, overwritten: true },
    );
    const final = [...(batched ? [xv.shape[0]] : []), O, ...(dims === 2 ? out : [out[1]])];
    owned.push(r);
    return reshape(r, final);
  } finally {
    disposeAll(owned);
  }
}

/** PyTorch's pooling output length (`pooling_output_shape`). */
function poolOut(
  len: number,
  k: number,
  pad: number,
  stride: number,
  dil: number,
  ceil: boolean,
): number {
  const num = len + 2 * pad - dil * (k - 1) - 1 + (ceil ? stride - 1 : 0);
  let o = Math.floor(num / stride) + 1;
  // The last window must start inside the input or its left padding.
  if (ceil && (o - 1) * stride >= len + pad) o--;
  return o;
}

/** Both poolings: convert the input, read the options (PyTorch's defaults), run the kernel. */
function pool(
  op: "maxPool2d" | "avgPool2d",
  x: TensorLike,
  options: MaxPool2dOptions & AvgPool2dOptions,
): Tensor {
  const xt = asTensor(x);
  try {
    const kernel = pair(op, "kernelSize", options.kernelSize, 1);
    const stride = pair(op, "stride", options.stride ?? kernel, 1);
    const pad = pair(op, "padding", options.padding ?? 0, 0);
    // avgPool2d has no dilation.
    const dilation = pair(op, "dilation", op === "maxPool2d" ? options.dilation ?? 1 : 1, 1);
    const ceilMode = options.ceilMode ?? false, countIncludePad = options.countIncludePad ?? true;
    return poolCore(op, xt, kernel, stride, pad, dilation, ceilMode, countIncludePad);
  } finally {
    if (xt !== x) xt.dispose();
  }
}

function poolCore(
  op: "maxPool2d" | "avgPool2d",
  x: Tensor,
  kernel: [number, number],
  stride: [number, number],
  pad: [number, number],
  dilation: [number, number],
  ceilMode: boolean,
  countIncludePad: boolean,
): Tensor {
  checkDType(x.dtype, op);
  if (x.ndim !== 3 && x.ndim !== 4) {
    throw new ShapeError(
      `${op}: input of shape ${fmtShape(x.shape)} has ${x.ndim} axes; expected (N, C, H, W) or ` +
        `(C, H, W).`,
    );
  }
  if (op === "avgPool2d" && x.dtype === "bool") {
    throw new DTypeError(
      `${op}: input of shape ${fmtShape(x.shape)} has dtype bool, which has no average. ` +
        `Hint: astype("f32") first.`,
    );
  }
  for (const ax of [0, 1]) {
    if (pad[ax] > Math.floor(kernel[ax] / 2)) {
      throw new ShapeError(
        `${op}: padding ${JSON.stringify(pad)} must be at most half the kernel size ` +
          `${JSON.stringify(kernel)} (got ${pad[ax]} > ${kernel[ax]} / 2 on axis ${
            ["H", "W"][ax]
          }).`,
      );
    }
  }
  const batched = x.ndim === 4;
  const [H, W] = x.shape.slice(-2);
  const out = [0, 1].map((ax) =>
    poolOut([H, W][ax], kernel[ax], pad[ax], stride[ax], dilation[ax], ceilMode)
  );
  if (out[0] <= 0 || out[1] <= 0) {
    throw new ShapeError(
      `${op}: input of shape ${fmtShape(x.shape)} is too small for kernel ${
        JSON.stringify(kernel)
      } with padding ${JSON.stringify(pad)} and dilation ${JSON.stringify(dilation)}: the output ` +
        `would be ${out[0]}×${out[1]}. Hint: use a smaller kernel or add padding.`,
    );
  }
  const xv = batched ? x : reshape(x, [1, ...x.shape]);
  try {
    const r = runKernel1(
      op,
      [xv],
      {
        kernel,
        stride,
        padding: [pad[0], pad[0], pad[1], pad[1]],
        dilation,
        countIncludePad,
      },
      { shape: [xv.shape[0], xv.shape[1], out[0], out[1]], dtype: x.dtype, overwritten: true },
    );
    if (batched) return r;
    try {
      return reshape(r, [x.shape[0], out[0], out[1]]);
    } finally {
      r.dispose();
    }
  } finally {
    if (xv !== x) xv.dispose();
  }
}

/**
 * 2-D max pooling (PyTorch's `max_pool2d`): input (N, C, H, W) or (C, H, W); the maximum over
 * each window, with padded positions ignored and NaN propagating. Keeps the input's dtype.
 *
 * @example
 * ```ts
 * import { arange, maxPool2d } from "@aprender/compute";
 * const x = arange(16).reshape([1, 1, 4, 4]);
 * console.log(maxPool2d(x, { kernelSize: 2 }).toArraySync()); // [[[[5, 7], [13, 15]]]]
 * ```
 */
export function maxPool2d(x: TensorLike, options: MaxPool2dOptions): Tensor {
  return pool("maxPool2d", x, options);
}

/**
 * 2-D average pooling (PyTorch's `avg_pool2d`): input (N, C, H, W) or (C, H, W); the mean over
 * each window. With `countIncludePad` (default) padded zeros count in the divisor; windows that
 * `ceilMode` lets run past the padding are divided by their clipped size. Keeps the input's dtype
 * (integer means truncate toward zero, like PyTorch).
 *
 * @example
 * ```ts
 * import { arange, avgPool2d } from "@aprender/compute";
 * const x = arange(16, undefined, 1, { dtype: "f32" }).reshape([1, 4, 4]);
 * console.log(avgPool2d(x, { kernelSize: 2 }).toArraySync()); // [[[2.5, 4.5], [10.5, 12.5]]]
 * ```
 */
export function avgPool2d(x: TensorLike, options: AvgPool2dOptions): Tensor {
  return pool("avgPool2d", x, options);
}
