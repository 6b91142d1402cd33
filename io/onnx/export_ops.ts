/**
 * How each traced op becomes ONNX nodes: one function per op name the tracer records (kernel
 * names from core's op contracts, `view.*` and composite ops), given the input and output value
 * names, their shapes and the op's attributes.
 *
 * @module
 */
import { FormatError } from "../../core/errors.ts";
import type { DType } from "../../core/dtype.ts";
import type { Shape } from "../../core/shape.ts";
import { onnxFromDtype } from "./tensor_proto.ts";

/** A dimension: its size in the example, and whether it follows a dynamic axis. */
export interface DimInfo {
  /** Size in the example trace. */
  size: number;
  /** Size in the perturbed trace (equal to `size` when static). */
  alt: number;
}

/** A value (or constant) as a lowering sees it. */
export interface ValueRef {
  /** Its ONNX name. */
  name: string;
  /** Example shape. */
  shape: Shape;
  /** Sizes in the perturbed trace (same as shape when nothing is dynamic). */
  alt: Shape;
  /** Its dtype. */
  dtype: DType;
  /** Whether it is a constant (initializer). */
  constant: boolean;
}

/** Attribute values a node takes. */
export type Attr = number | number[] | string | { f: number };

/** What the lowering functions build with (implemented by the exporter's builder). */
export interface Emit {
  /** Default-domain opset being written. */
  readonly opset: number;
  /** Add a node; returns its output names (fresh unless `outs` is given). */
  node(op: string, inputs: string[], attrs?: Record<string, Attr>, outs?: string[]): string[];
  /** An i64 initializer with these values (1-D). */
  ints(values: number[]): string;
  /** A scalar initializer of `dtype`. */
  scalar(value: number, dtype: DType): string;
  /** An i64 1-D shape tensor for `out` (sizes and perturbed sizes), read from graph inputs. */
  shape(out: Shape, alt: Shape, like?: ValueRef): string;
}

/** One op's lowering. */
export interface Lowering {
  b: Emit;
  ins: ValueRef[];
  outs: ValueRef[];
  attrs: Record<string, unknown>;
  op: string;
}

const UNARY: Record<string, string> = {
  neg: "Neg",
  abs: "Abs",
  sign: "Sign",
  exp: "Exp",
  log: "Log",
  sqrt: "Sqrt",
  sin: "Sin",
  cos: "Cos",
  tan: "Tan",
  asin: "Asin",
  acos: "Acos",
  atan: "Atan",
  sinh: "Sinh",
  cosh: "Cosh",
  tanh: "Tanh",
  erf: "Erf",
  sigmoid: "Sigmoid",
  relu: "Relu",
  selu: "Selu",
  round: "Round",
  floor: "Floor",
  ceil: "Ceil",
  isnan: "IsNaN",
  isinf: "IsInf",
  logicalNot: "Not",
  "view.identity": "Identity",
};

const BINARY: Record<string, string> = {
  add: "Add",
  sub: "Sub",
  mul: "Mul",
  div: "Div",
  pow: "Pow",
  minimum: "Min",
  maximum: "Max",
  eq: "Equal",
  lt: "Less",
  le: "LessOrEqual",
  gt: "Greater",
  ge: "GreaterOrEqual",
  logicalAnd: "And",
  logicalOr: "Or",
  logicalXor: "Xor",
};

const REDUCE: Record<string, [string, number]> = {
  sum: ["ReduceSum", 13],
  mean: ["ReduceMean", 18],
  max: ["ReduceMax", 18],
  min: ["ReduceMin", 18],
  prod: ["ReduceProd", 18],
  logsumexp: ["ReduceLogSumExp", 18],
};

function fail(l: Lowering, why: string): never {
  throw new FormatError(
    `exportOnnx: op "${l.op}" (inputs ${l.ins.map((v) => JSON.stringify(v.shape)).join(", ")}) ` +
      `${why}. Hint: the exporter maps the ops in io/onnx/export_ops.ts; compute this part ` +
      `another way or extend the map.`,
  );
}

/** Cast `v` to `dtype` when it differs (binary ops of mixed dtypes). */
function castTo(l: Lowering, v: ValueRef, dtype: DType): string {
  if (v.dtype === dtype) return v.name;
  return l.b.node("Cast", [v.name], { to: onnxFromDtype(dtype, "exportOnnx") })[0];
}

function norm(axis: number, ndim: number): number {
  return axis < 0 ? axis + ndim : axis;
}

/** A reduction over `axes`, keeping dims when the output keeps the input's rank. */
function reduce(l: Lowering, onnx: string, axesInputSince: number, x = l.ins[0].name): string[] {
  const axes = (l.attrs.axes as number[]) ?? [];
  const keep = l.outs[0].shape.length === l.ins[0].shape.length ? 1 : 0;
  if (axes.length === 0) return l.b.node("Identity", [x], {}, [l.outs[0].name]);
  if (l.b.opset >= axesInputSince) {
    return l.b.node(onnx, [x, l.b.ints(axes)], { keepdims: keep }, [l.outs[0].name]);
  }
  return l.b.node(onnx, [x], { axes, keepdims: keep }, [l.outs[0].name]);
}

/**
 * (x − mean)/√(var + eps)·w + b over `axes` (means kept as dims) into the op's first output: the
 * fused norm kernels' decomposition (their statistics outputs are not exported).
 */
function normalized(
  l: Lowering,
  axes: number[],
  eps: number,
  w: string | null,
  b: string | null,
): void {
  const x = l.ins[0];
  const mean = (v: string) =>
    l.b.opset >= 18
      ? l.b.node("ReduceMean", [v, l.b.ints(axes)], { keepdims: 1 })[0]
      : l.b.node("ReduceMean", [v], { axes, keepdims: 1 })[0];
  const d = l.b.node("Sub", [x.name, mean(x.name)])[0];
  const v = mean(l.b.node("Mul", [d, d])[0]);
  const sd = l.b.node("Sqrt", [l.b.node("Add", [v, l.b.scalar(eps, x.dtype)])[0]])[0];
  let y = l.b.node("Div", [d, sd])[0];
  if (w) y = l.b.node("Mul", [y, w])[0];
  if (b) y = l.b.node("Add", [y, b])[0];
  l.b.node("Identity", [y], {}, [l.outs[0].name]);
}

/** The trailing axes of x whose sizes multiply to `size` (a layer norm's normalized axes). */
function trailingAxes(l: Lowering, size: number): number[] {
  const shape = l.ins[0].shape;
  const axes: number[] = [];
  for (let i = shape.length - 1, p = 1; i >= 0 && p < size; i--) {
    p *= shape[i];
    axes.unshift(i);
  }
  return axes;
}

/** Window pads [top, left, bottom, right] and ceil_mode from the traced shapes. */
function window(l: Lowering, kernel: number[]): Record<string, Attr> {
  const a = l.attrs as { stride: number[]; padding: number[]; dilation: number[] };
  const [pt, pb, pl, pr] = a.padding;
  const inHW = l.ins[0].shape.slice(-2), outHW = l.outs[0].shape.slice(-2);
  const pads = [[pt, pb], [pl, pr]];
  let ceil = 0;
  for (let i = 0; i < 2; i++) {
    const span = inHW[i] + pads[i][0] + pads[i][1] - a.dilation[i] * (kernel[i] - 1) - 1;
    if (Math.floor(span / a.stride[i]) + 1 < outHW[i]) ceil = 1;
  }
  return {
    kernel_shape: kernel,
    strides: a.stride,
    pads: [pt, pl, pb, pr],
    ...(ceil ? { ceil_mode: 1 } : {}),
  };
}

const INT_MAX = 2 ** 62;

/** The map: op name → lowering (output names are given in `l.outs`). */
export const LOWER: Record<string, (l: Lowering) => void> = {
  conv2d: (l) => {
    const a = l.attrs as { dilation: number[]; groups: number };
    const k = l.ins[1].shape.slice(2);
    l.b.node("Conv", l.ins.map((v) => v.name), {
      ...window(l, k),
      dilations: a.dilation,
      group: a.groups,
    }, [l.outs[0].name]);
  },
  maxPool2d: (l) => {
    const a = l.attrs as { kernel: number[]; dilation: number[] };
    const w = window(l, a.kernel);
    if (a.dilation.some((d) => d !== 1)) w.dilations = a.dilation;
    l.b.node("MaxPool", [l.ins[0].name], w, [l.outs[0].name]);
  },
  avgPool2d: (l) => {
    const a = l.attrs as { kernel: number[]; countIncludePad?: boolean };
    const w = window(l, a.kernel);
    w.count_include_pad = a.countIncludePad === false ? 0 : 1;
    l.b.node("AveragePool", [l.ins[0].name], w, [l.outs[0].name]);
  },
  linear: (l) => {
    const [x, w, bias] = l.ins;
    const out = l.outs[0].name;
    if (x.shape.length === 2) {
      l.b.node("Gemm", l.ins.map((v) => v.name), { transB: 1 }, [out]);
      return;
    }
    const wt = l.b.node("Transpose", [w.name], { perm: [1, 0] })[0];
    if (!bias) l.b.node("MatMul", [x.name, wt], {}, [out]);
    else l.b.node("Add", [l.b.node("MatMul", [x.name, wt])[0], bias.name], {}, [out]);
  },
  matmul: (l) => void l.b.node("MatMul", l.ins.map((v) => v.name), {}, [l.outs[0].name]),
  layerNorm: (l) => {
    const a = l.attrs as { eps: number; size: number; hasWeight: boolean; hasBias: boolean };
    const axes = trailingAxes(l, a.size);
    const w = a.hasWeight ? l.ins[1].name : null;
    const b = a.hasBias ? l.ins[a.hasWeight ? 2 : 1].name : null;
    if (l.b.opset >= 17 && w) {
      const ins = b ? [l.ins[0].name, w, b] : [l.ins[0].name, w];
      l.b.node("LayerNormalization", ins, { axis: axes[0], epsilon: { f: a.eps } }, [
        l.outs[0].name,
      ]);
    } else normalized(l, axes, a.eps, w, b);
  },
  batchNormTrain: (l) => {
    // Training-mode batch statistics (an exported eval-mode model uses the running ones).
    const a = l.attrs as { eps: number; hasWeight: boolean; hasBias: boolean };
    const nd = l.ins[0].shape.length, C = l.ins[0].shape[1];
    const perChannel = (v: ValueRef) =>
      l.b.node("Reshape", [v.name, l.b.ints([C, ...Array(nd - 2).fill(1)])])[0];
    const axes = [0, ...Array.from({ length: nd - 2 }, (_, i) => i + 2)];
    const w = a.hasWeight ? perChannel(l.ins[1]) : null;
    const b = a.hasBias ? perChannel(l.ins[a.hasWeight ? 2 : 1]) : null;
    normalized(l, axes, a.eps, w, b);
  },
  square: (l) => void l.b.node("Mul", [l.ins[0].name, l.ins[0].name], {}, [l.outs[0].name]),
  rsqrt: (l) =>
    void l.b.node("Reciprocal", [l.b.node("Sqrt", [l.ins[0].name])[0]], {}, [l.outs[0].name]),
  silu: (l) => {
    const s = l.b.node("Sigmoid", [l.ins[0].name])[0];
    l.b.node("Mul", [l.ins[0].name, s], {}, [l.outs[0].name]);
  },
  mish: (l) => {
    const t = l.b.node("Tanh", [l.b.node("Softplus", [l.ins[0].name])[0]])[0];
    l.b.node("Mul", [l.ins[0].name, t], {}, [l.outs[0].name]);
  },
  hardswish: (l) => void l.b.node("HardSwish", [l.ins[0].name], {}, [l.outs[0].name]),
  leakyRelu: (l) =>
    void l.b.node("LeakyRelu", [l.ins[0].name], {
      alpha: { f: (l.attrs.negativeSlope as number) ?? 0.01 },
    }, [l.outs[0].name]),
  elu: (l) =>
    void l.b.node("Elu", [l.ins[0].name], { alpha: { f: (l.attrs.alpha as number) ?? 1 } }, [
      l.outs[0].name,
    ]),
  softplus: (l) => {
    const beta = (l.attrs.beta as number) ?? 1;
    const x = l.ins[0], dt = x.dtype;
    if (beta === 1) return void l.b.node("Softplus", [x.name], {}, [l.outs[0].name]);
    const sp = l.b.node("Softplus", [l.b.node("Mul", [x.name, l.b.scalar(beta, dt)])[0]])[0];
    l.b.node("Div", [sp, l.b.scalar(beta, dt)], {}, [l.outs[0].name]);
  },
  gelu: (l) => {
    const x = l.ins[0].name, dt = l.ins[0].dtype, c = (v: number) => l.b.scalar(v, dt);
    const out = l.outs[0].name;
    if (l.attrs.approximate === "tanh") {
      // 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))
      const x3 = l.b.node("Mul", [l.b.node("Mul", [x, x])[0], x])[0];
      const inner = l.b.node("Add", [x, l.b.node("Mul", [x3, c(0.044715)])[0]])[0];
      const t = l.b.node("Tanh", [l.b.node("Mul", [inner, c(Math.sqrt(2 / Math.PI))])[0]])[0];
      const half = l.b.node("Mul", [x, c(0.5)])[0];
      l.b.node("Mul", [half, l.b.node("Add", [t, c(1)])[0]], {}, [out]);
      return;
    }
    // 0.5 x (1 + erf(x / √2)), the opset-13 form (Gelu itself is opset 20).
    const e = l.b.node("Erf", [l.b.node("Mul", [x, c(Math.SQRT1_2)])[0]])[0];
    l.b.node("Mul", [l.b.node("Mul", [x, c(0.5)])[0], l.b.node("Add", [e, c(1)])[0]], {}, [out]);
  },
  clip: (l) => {
    const { min, max } = l.attrs as { min?: number; max?: number };
    const dt = l.ins[0].dtype;
    const ins = [l.ins[0].name, min === undefined ? "" : l.b.scalar(min, dt)];
    if (max !== undefined) ins.push(l.b.scalar(max, dt));
    l.b.node("Clip", ins, {}, [l.outs[0].name]);
  },
  ne: (l) => {
    const e = l.b.node("Equal", [l.ins[0].name, l.ins[1].name])[0];
    l.b.node("Not", [e], {}, [l.outs[0].name]);
  },
  softmax: (l) =>
    void l.b.node("Softmax", [l.ins[0].name], { axis: l.attrs.axis as number }, [l.outs[0].name]),
  logSoftmax: (l) =>
    void l.b.node("LogSoftmax", [l.ins[0].name], { axis: l.attrs.axis as number }, [
      l.outs[0].name,
    ]),
  cumsum: (l) => {
    if (l.attrs.axis === null) fail(l, "over the flattened input is not mapped");
    l.b.node("CumSum", [l.ins[0].name, l.b.ints([l.attrs.axis as number])], {}, [l.outs[0].name]);
  },
  argmax: (l) => arg(l, "ArgMax"),
  argmin: (l) => arg(l, "ArgMin"),
  norm: (l) => {
    if ((l.attrs.ord ?? 2) !== 2) fail(l, "with an order other than 2 is not mapped");
    reduce(l, "ReduceL2", 18);
  },
  var: (l) => variance(l, false),
  std: (l) => variance(l, true),
  copy: (l) => {
    const [x] = l.ins, [y] = l.outs;
    if (x.dtype === y.dtype) l.b.node("Identity", [x.name], {}, [y.name]);
    else l.b.node("Cast", [x.name], { to: onnxFromDtype(y.dtype, "exportOnnx") }, [y.name]);
  },
  where: (l) => void l.b.node("Where", l.ins.map((v) => v.name), {}, [l.outs[0].name]),
  take: (l) => {
    const axis = norm(l.attrs.axis as number, l.ins[0].shape.length);
    l.b.node("Gather", [l.ins[0].name, l.ins[1].name], { axis }, [l.outs[0].name]);
  },
  gather: (l) => {
    const axis = norm(l.attrs.axis as number, l.ins[0].shape.length);
    l.b.node("GatherElements", [l.ins[0].name, l.ins[1].name], { axis }, [l.outs[0].name]);
  },
  concat: (l) =>
    void l.b.node("Concat", l.ins.map((v) => v.name), { axis: l.attrs.axis as number }, [
      l.outs[0].name,
    ]),
  pad: (l) => {
    const pairs = l.attrs.pairs as [number, number][];
    const pads = [...pairs.map((p) => p[0]), ...pairs.map((p) => p[1])];
    l.b.node("Pad", [l.ins[0].name, l.b.ints(pads)], {}, [l.outs[0].name]);
  },
  "view.permute": (l) =>
    void l.b.node("Transpose", [l.ins[0].name], { perm: l.attrs.axes as number[] }, [
      l.outs[0].name,
    ]),
  "view.reshape": (l) => {
    const [x] = l.ins, [y] = l.outs;
    l.b.node("Reshape", [x.name, l.b.shape(y.shape, y.alt, x)], {}, [y.name]);
  },
  "view.broadcastTo": (l) => {
    const [x] = l.ins, [y] = l.outs;
    // Expand broadcasts: where the input already has the size, 1 keeps it (dynamic or not).
    const k = y.shape.length - x.shape.length;
    const same = (i: number) =>
      i >= k && x.shape[i - k] === y.shape[i] && x.alt[i - k] === y.alt[i];
    const shape = y.shape.map((d, i) => (same(i) ? 1 : d));
    const alt = y.alt.map((d, i) => (same(i) ? 1 : d));
    l.b.node("Expand", [x.name, l.b.shape(shape, alt)], {}, [y.name]);
  },
  "view.slice": (l) => {
    const [x] = l.ins, [y] = l.outs;
    const plan = l.attrs.plan as [number, number, number][];
    const starts: number[] = [], ends: number[] = [], axes: number[] = [], steps: number[] = [];
    plan.forEach(([start, step, len], ax) => {
      const full = start === 0 && step === 1 && len === x.shape[ax];
      if (full && y.alt[ax] === x.alt[ax]) return;
      if (x.alt[ax] !== x.shape[ax] && y.alt[ax] !== y.shape[ax]) {
        // A dynamic axis: only a slice running to its end keeps its meaning.
        if (step !== 1 || start + len !== x.shape[ax]) fail(l, "on a dynamic axis");
        starts.push(start), ends.push(INT_MAX), axes.push(ax), steps.push(1);
        return;
      }
      const end = start + step * len;
      starts.push(start), axes.push(ax), steps.push(step);
      ends.push(step < 0 && end < 0 ? -INT_MAX : end);
    });
    if (axes.length === 0) return void l.b.node("Identity", [x.name], {}, [y.name]);
    const ins = [x.name, l.b.ints(starts), l.b.ints(ends), l.b.ints(axes), l.b.ints(steps)];
    l.b.node("Slice", ins, {}, [y.name]);
  },
  "view.flip": (l) => {
    const axes = (l.attrs.axes as number[]) ?? [];
    const n = axes.length;
    const ins = [
      l.ins[0].name,
      l.b.ints(axes.map(() => -1)),
      l.b.ints(axes.map(() => -INT_MAX)),
      l.b.ints(axes),
      l.b.ints(axes.map(() => -1)),
    ];
    if (n === 0) l.b.node("Identity", [l.ins[0].name], {}, [l.outs[0].name]);
    else l.b.node("Slice", ins, {}, [l.outs[0].name]);
  },
  einsum: (l) => {
    const { labels, outLabels } = l.attrs as { labels: string[]; outLabels: string };
    if (!Array.isArray(labels)) fail(l, "with these attributes is not mapped");
    const eq = `${labels.join(",")}->${outLabels}`;
    l.b.node("Einsum", l.ins.map((v) => v.name), { equation: eq }, [l.outs[0].name]);
  },
};

for (const [op, onnx] of Object.entries(UNARY)) {
  LOWER[op] = (l) => void l.b.node(onnx, [l.ins[0].name], {}, [l.outs[0].name]);
}
for (const [op, onnx] of Object.entries(BINARY)) {
  LOWER[op] = (l) => {
    const arith = !["eq", "lt", "le", "gt", "ge"].includes(op) && !op.startsWith("logical");
    // Mixed dtypes (the result's promoted type): cast the operands first.
    const want = arith ? l.outs[0].dtype : l.ins[0].dtype;
    l.b.node(onnx, l.ins.map((v) => castTo(l, v, want)), {}, [l.outs[0].name]);
  };
}
for (const [op, [onnx, since]] of Object.entries(REDUCE)) {
  LOWER[op] = (l) => void reduce(l, onnx, since);
}

function arg(l: Lowering, onnx: string): void {
  const axes = l.attrs.axes as number[];
  if (axes.length !== 1) fail(l, "over several axes is not mapped");
  const keep = l.outs[0].shape.length === l.ins[0].shape.length ? 1 : 0;
  l.b.node(onnx, [l.ins[0].name], { axis: axes[0], keepdims: keep }, [l.outs[0].name]);
}

/** var/std: mean of squared deviations with the `ddof` correction. */
function variance(l: Lowering, sqrt: boolean): void {
  const x = l.ins[0], axes = l.attrs.axes as number[], ddof = (l.attrs.ddof as number) ?? 0;
  const keep = l.outs[0].shape.length === x.shape.length ? 1 : 0;
  const count = axes.reduce((p, a) => p * x.shape[a], 1);
  if (axes.some((a) => x.alt[a] !== x.shape[a])) fail(l, "over a dynamic axis is not mapped");
  const mean = (v: string, k: number) =>
    l.b.opset >= 18
      ? l.b.node("ReduceMean", [v, l.b.ints(axes)], { keepdims: k })[0]
      : l.b.node("ReduceMean", [v], { axes, keepdims: k })[0];
  const d = l.b.node("Sub", [x.name, mean(x.name, 1)])[0];
  let v = mean(l.b.node("Mul", [d, d])[0], keep);
  if (ddof) v = l.b.node("Mul", [v, l.b.scalar(count / (count - ddof), x.dtype)])[0];
  l.b.node(sqrt ? "Sqrt" : "Identity", [v], {}, [l.outs[0].name]);
}
