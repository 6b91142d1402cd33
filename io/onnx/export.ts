/**
 * `exportOnnx`: an ONNX model from a module built of our nn layers. The module tree is lowered
 * layer by layer (Sequential chains of Linear, Conv2d, BatchNorm, pooling, Flatten, Dropout,
 * LayerNorm, TransformerEncoderLayer and the activations), each layer run on the example input
 * to follow shapes; weights become initializers. Layers are recognized by class name and fields (io does not import nn).
 *
 * @module
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { FormatError } from "../../core/errors.ts";
import { noGrad } from "../../core/autograd.ts";
import { fromTyped } from "../../core/ops/creation.ts";
import * as V from "../../core/ops/view.ts";
import type { Tensor } from "../../core/tensor.ts";
import {
  type AttributeProto,
  AttributeProto_AttributeType as AT,
  AttributeProtoSchema,
  ModelProtoSchema,
  type NodeProto,
  NodeProtoSchema,
  type TensorProto,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from "./onnx_pb.ts";
import { onnxFromDtype, tensorToProto } from "./tensor_proto.ts";

/** Options of {@link exportOnnx}. */
export interface ExportOnnxOptions {
  /** Opset of the default domain (default 17, the lowest with LayerNormalization). */
  opset?: number;
  /** Symbolic dimensions per input/output name, e.g. `{ x: { 0: "batch" }, y: { 0: "batch" } }`. */
  dynamicAxes?: Record<string, Record<number, string>>;
  /** Input name (default "x"). */
  inputName?: string;
  /** Output name (default "y"). */
  outputName?: string;
}

/** The parts of an nn module the exporter reads (duck-typed: io does not import nn). */
interface ModuleLike {
  training: boolean;
  call(x: Tensor): Tensor;
  children(): ModuleLike[];
  modules(): ModuleLike[];
  train(mode?: boolean): unknown;
}

type Attr = number | number[] | string;

class Builder {
  nodes: NodeProto[] = [];
  inits: TensorProto[] = [];
  #n = 0;
  constructor(readonly opset: number) {}

  name(prefix: string): string {
    return `${prefix}_${this.#n++}`;
  }

  weight(t: Tensor, prefix: string): string {
    const name = this.name(prefix);
    this.inits.push(tensorToProto(V.contiguous(t.detach()), name));
    return name;
  }

  ints(values: number[], prefix: string): string {
    const name = this.name(prefix);
    const t = fromTyped(BigInt64Array.from(values, BigInt), [values.length], "i64");
    this.inits.push(tensorToProto(t, name));
    t.dispose();
    return name;
  }

  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, out?: string): string {
    const o = out ?? this.name(op.toLowerCase());
    const attribute: AttributeProto[] = Object.entries(attrs).map(([k, v]) =>
      typeof v === "string"
        ? create(AttributeProtoSchema, { name: k, type: AT.STRING, s: new TextEncoder().encode(v) })
        : Array.isArray(v)
        ? create(AttributeProtoSchema, { name: k, type: AT.INTS, ints: v.map(BigInt) })
        : Number.isInteger(v) && !k.startsWith("epsilon") && k !== "alpha"
        ? create(AttributeProtoSchema, { name: k, type: AT.INT, i: BigInt(v) })
        : create(AttributeProtoSchema, { name: k, type: AT.FLOAT, f: v })
    );
    this.nodes.push(
      create(NodeProtoSchema, { opType: op, input: inputs, output: [o], name: o, attribute }),
    );
    return o;
  }
}

function pair(v: unknown, dflt: number): [number, number] {
  if (v === undefined || v === null) return [dflt, dflt];
  return Array.isArray(v) ? [v[0], v[1]] : [v as number, v as number];
}

function unsupported(m: ModuleLike, why: string): never {
  throw new FormatError(
    `exportOnnx: cannot export ${m.constructor.name}: ${why}. Hint: supported are Sequential ` +
      `chains of Linear, Conv2d, BatchNorm1d/2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d(1), ` +
      `Flatten, Dropout, LayerNorm and the common activations.`,
  );
}

const LOWERED = new Set([
  "Linear",
  "ReLU",
  "Sigmoid",
  "Tanh",
  "SiLU",
  "LeakyReLU",
  "ELU",
  "GELU",
  "Softmax",
  "LogSoftmax",
  "Dropout",
  "Identity",
  "Flatten",
  "Conv2d",
  "BatchNorm1d",
  "BatchNorm2d",
  "MaxPool2d",
  "AvgPool2d",
  "AdaptiveAvgPool2d",
  "LayerNorm",
  "TransformerEncoderLayer",
]);

/** x W^T (+ b) for an input of any rank. */
function linearOn(b: Builder, v: string, weight: Tensor, bias: Tensor | null): string {
  const mm = b.node("MatMul", [v, b.weight(V.transpose(weight), "weight_t")]);
  return bias ? b.node("Add", [mm, b.weight(bias, "bias")]) : mm;
}

/** 0.5 x (1 + erf(x / sqrt 2)), the opset-13 form of exact GELU. */
function geluOn(b: Builder, v: string): string {
  const c = (val: number) => b.weight(fromTyped(new Float32Array([val]), [], "f32"), "c");
  const e = b.node("Erf", [b.node("Mul", [v, c(Math.SQRT1_2)])]);
  return b.node("Mul", [b.node("Mul", [v, c(0.5)]), b.node("Add", [e, c(1)])]);
}

/**
 * A TransformerEncoderLayer (no masks): self-attention from in_proj/out_proj as MatMul, Split,
 * Reshape, Transpose and Softmax; the feed-forward block; residuals and LayerNormalization,
 * post-norm or pre-norm. Inputs (N, S, E) with batchFirst, else (S, N, E).
 */
// deno-lint-ignore no-explicit-any
function encoderLayer(b: Builder, f: any, v: string): string {
  const attn = f.self_attn;
  const E: number = attn.embedDim ?? f.dModel, H: number = attn.numHeads, hd = E / H;
  if (!attn.in_proj_weight) {
    throw new FormatError("exportOnnx: separate q/k/v projections are not supported.");
  }
  const act = /activation=(\w+)/.exec(f.extraRepr())?.[1];
  if (act !== "relu" && act !== "gelu") {
    throw new FormatError(
      `exportOnnx: TransformerEncoderLayer activation "${act}" is not supported.`,
    );
  }
  const x0 = f.batchFirst ? v : b.node("Transpose", [v], { perm: [1, 0, 2] });
  const ln = (norm: { weight: Tensor; bias: Tensor | null; eps: number }, u: string) => {
    const ins = [u, b.weight(norm.weight, "ln_scale")];
    if (norm.bias) ins.push(b.weight(norm.bias, "ln_bias"));
    return b.node("LayerNormalization", ins, { axis: -1, epsilon: norm.eps });
  };
  const sa = (u: string) => {
    const qkv = linearOn(b, u, attn.in_proj_weight, attn.in_proj_bias);
    const [q, k, vv] = ["q", "k", "v"].map((n) => b.name(n));
    b.nodes.push(create(NodeProtoSchema, {
      opType: "Split",
      input: [qkv, b.ints([E, E, E], "split")],
      output: [q, k, vv],
      name: b.name("split"),
      attribute: [create(AttributeProtoSchema, { name: "axis", type: AT.INT, i: -1n })],
    }));
    const heads = (t: string, perm: number[]) =>
      b.node("Transpose", [b.node("Reshape", [t, b.ints([0, 0, H, hd], "shape")])], { perm });
    const scale = b.weight(fromTyped(new Float32Array([1 / Math.sqrt(hd)]), [], "f32"), "scale");
    const scores = b.node("Mul", [
      b.node("MatMul", [heads(q, [0, 2, 1, 3]), heads(k, [0, 2, 3, 1])]),
      scale,
    ]);
    const ctxv = b.node("MatMul", [
      b.node("Softmax", [scores], { axis: -1 }),
      heads(vv, [0, 2, 1, 3]),
    ]);
    const joined = b.node("Reshape", [
      b.node("Transpose", [ctxv], { perm: [0, 2, 1, 3] }),
      b.ints([0, 0, E], "shape"),
    ]);
    return linearOn(b, joined, attn.out_proj.weight, attn.out_proj.bias);
  };
  const ff = (u: string) => {
    const h = linearOn(b, u, f.linear1.weight, f.linear1.bias);
    const a = act === "relu" ? b.node("Relu", [h]) : geluOn(b, h);
    return linearOn(b, a, f.linear2.weight, f.linear2.bias);
  };
  let out: string;
  if (f.normFirst) {
    const x1 = b.node("Add", [x0, sa(ln(f.norm1, x0))]);
    out = b.node("Add", [x1, ff(ln(f.norm2, x1))]);
  } else {
    const x1 = ln(f.norm1, b.node("Add", [x0, sa(x0)]));
    out = ln(f.norm2, b.node("Add", [x1, ff(x1)]));
  }
  return f.batchFirst ? out : b.node("Transpose", [out], { perm: [1, 0, 2] });
}

/** Lower one module applied to value `v` (whose example is `x`); returns [value, example out]. */
function lower(b: Builder, m: ModuleLike, v: string, x: Tensor): [string, Tensor] {
  const kind = m.constructor.name;
  // deno-lint-ignore no-explicit-any
  const f = m as any;
  if (kind === "Sequential") {
    let cur: [string, Tensor] = [v, x];
    for (const c of m.children()) cur = lower(b, c, cur[0], cur[1]);
    return cur;
  }
  if (!LOWERED.has(kind)) unsupported(m, "no ONNX lowering for this layer");
  const y = m.call(x);
  const out = (op: string, inputs: string[], attrs: Record<string, Attr> = {}) =>
    [b.node(op, inputs, attrs), y] as [string, Tensor];
  switch (kind) {
    case "Linear": {
      if (x.ndim === 2) {
        const ins = [v, b.weight(f.weight, "weight")];
        if (f.bias) ins.push(b.weight(f.bias, "bias"));
        return out("Gemm", ins, { transB: 1 });
      }
      const mm = b.node("MatMul", [v, b.weight(V.transpose(f.weight), "weight_t")]);
      return f.bias ? out("Add", [mm, b.weight(f.bias, "bias")]) : [mm, y];
    }
    case "ReLU":
      return out("Relu", [v]);
    case "Sigmoid":
      return out("Sigmoid", [v]);
    case "Tanh":
      return out("Tanh", [v]);
    case "SiLU":
      return out("Mul", [v, b.node("Sigmoid", [v])]);
    case "LeakyReLU":
      return out("LeakyRelu", [v], { alpha: f.negativeSlope });
    case "ELU":
      return out("Elu", [v], { alpha: f.alpha });
    case "GELU": {
      if (f.approximate !== "none") unsupported(m, "approximate GELU");
      // 0.5 x (1 + erf(x / sqrt 2)), the opset-13 form (Gelu itself is opset 20).
      const c = (val: number) => b.weight(fromTyped(new Float32Array([val]), [], "f32"), "c");
      const e = b.node("Erf", [b.node("Mul", [v, c(Math.SQRT1_2)])]);
      return out("Mul", [b.node("Mul", [v, c(0.5)]), b.node("Add", [e, c(1)])]);
    }
    case "Softmax":
      return out("Softmax", [v], { axis: f.dim });
    case "LogSoftmax":
      return out("LogSoftmax", [v], { axis: f.dim });
    case "Dropout":
    case "Identity":
      return out("Identity", [v]);
    case "Flatten": {
      const s = f.startDim < 0 ? f.startDim + x.ndim : f.startDim;
      const e = f.endDim < 0 ? f.endDim + x.ndim : f.endDim;
      // 0 copies a leading dim (keeps a dynamic batch), -1 takes the flattened run.
      const shape = [...x.shape.slice(0, s).map(() => 0), -1, ...x.shape.slice(e + 1)];
      return out("Reshape", [v, b.ints(shape, "shape")]);
    }
    case "Conv2d": {
      if (f.paddingMode !== "zeros") unsupported(m, `padding mode ${f.paddingMode}`);
      const [kh, kw] = f.kernelSize;
      let pads: number[];
      if (f.padding === "valid") pads = [0, 0, 0, 0];
      else if (f.padding === "same") {
        const t = [f.dilation[0] * (kh - 1), f.dilation[1] * (kw - 1)];
        pads = [
          Math.floor(t[0] / 2),
          Math.floor(t[1] / 2),
          t[0] - Math.floor(t[0] / 2),
          t[1] - Math.floor(t[1] / 2),
        ];
      } else pads = [f.padding[0], f.padding[1], f.padding[0], f.padding[1]];
      const ins = [v, b.weight(f.weight, "weight")];
      if (f.bias) ins.push(b.weight(f.bias, "bias"));
      return out("Conv", ins, {
        kernel_shape: [kh, kw],
        strides: [...f.stride],
        dilations: [...f.dilation],
        pads,
        group: f.groups,
      });
    }
    case "BatchNorm1d":
    case "BatchNorm2d": {
      const mean = f.runningMean as Tensor | null, vr = f.runningVar as Tensor | null;
      if (!mean || !vr) unsupported(m, "no running statistics");
      const c = mean.shape[0];
      const ones = fromTyped(new Float32Array(c).fill(1), [c], "f32");
      const zeros = fromTyped(new Float32Array(c), [c], "f32");
      const ins = [
        v,
        b.weight(f.weight ?? ones, "bn_scale"),
        b.weight(f.bias ?? zeros, "bn_bias"),
        b.weight(mean, "bn_mean"),
        b.weight(vr, "bn_var"),
      ];
      return out("BatchNormalization", ins, { epsilon: f.eps });
    }
    case "MaxPool2d":
    case "AvgPool2d": {
      const k = pair(f.kernelSize, 1);
      const s = pair(f.options.stride ?? f.kernelSize, 1);
      const p = pair(f.options.padding, 0);
      const attrs: Record<string, Attr> = {
        kernel_shape: k,
        strides: s,
        pads: [p[0], p[1], p[0], p[1]],
        ceil_mode: f.options.ceilMode ? 1 : 0,
      };
      if (kind === "MaxPool2d") {
        const d = pair(f.options.dilation, 1);
        if (d[0] !== 1 || d[1] !== 1) attrs.dilations = d;
        return out("MaxPool", [v], attrs);
      }
      attrs.count_include_pad = f.options.countIncludePad === false ? 0 : 1;
      return out("AveragePool", [v], attrs);
    }
    case "AdaptiveAvgPool2d":
      if (f.outputSize[0] !== 1 || f.outputSize[1] !== 1) {
        unsupported(m, "output size other than 1");
      }
      return out("GlobalAveragePool", [v]);
    case "TransformerEncoderLayer":
      if (b.opset < 17) unsupported(m, "LayerNormalization needs opset 17");
      return [encoderLayer(b, f, v), y];
    case "LayerNorm": {
      if (b.opset < 17) unsupported(m, "LayerNormalization needs opset 17");
      const n = f.normalizedShape.length;
      const size = f.normalizedShape.reduce((p: number, d: number) => p * d, 1);
      const ins = [
        v,
        b.weight(
          f.weight ?? fromTyped(new Float32Array(size).fill(1), f.normalizedShape, "f32"),
          "ln_scale",
        ),
      ];
      if (f.bias) ins.push(b.weight(f.bias, "ln_bias"));
      return out("LayerNormalization", ins, { axis: -n, epsilon: f.eps });
    }
    default:
      unsupported(m, "no ONNX lowering for this layer");
  }
}

function info(name: string, t: Tensor, dyn: Record<number, string> | undefined): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: {
      value: {
        case: "tensorType",
        value: {
          elemType: onnxFromDtype(t.dtype as never, "exportOnnx"),
          shape: {
            dim: t.shape.map((d, i) => ({
              value: dyn?.[i] !== undefined
                ? { case: "dimParam" as const, value: dyn[i] }
                : { case: "dimValue" as const, value: BigInt(d) },
            })),
          },
        },
      },
    },
  });
}

/**
 * Export `module` (a Sequential of our nn layers, or one layer) as an ONNX model, following
 * `exampleInput` through it. Runs in evaluation mode (batch norm uses its running statistics,
 * dropout is the identity) and restores the module's mode after. Writes `path` when given and
 * returns the model bytes.
 *
 * @example
 * ```ts ignore
 * import { nn, randn } from "@aprender/compute";
 * import { exportOnnx } from "@aprender/compute/io";
 * const mlp = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2));
 * await exportOnnx(mlp, randn([1, 4]), "mlp.onnx", { dynamicAxes: { x: { 0: "batch" } } });
 * ```
 */
export async function exportOnnx(
  module: unknown,
  exampleInput: Tensor,
  path: string | null,
  options: ExportOnnxOptions = {},
): Promise<Uint8Array> {
  const m = module as ModuleLike;
  const opset = options.opset ?? 17;
  const inName = options.inputName ?? "x", outName = options.outputName ?? "y";
  const modes = m.modules().map((s) => [s, s.training] as const);
  m.train(false);
  try {
    const b = new Builder(opset);
    const [last, y] = noGrad(() => lower(b, m, inName, exampleInput));
    b.node("Identity", [last], {}, outName);
    const bytes = toBinary(
      ModelProtoSchema,
      create(ModelProtoSchema, {
        irVersion: 8n,
        opsetImport: [{ domain: "", version: BigInt(opset) }],
        producerName: "@aprender/compute",
        graph: {
          name: "main",
          node: b.nodes,
          initializer: b.inits,
          input: [info(inName, exampleInput, options.dynamicAxes?.[inName])],
          output: [info(outName, y, options.dynamicAxes?.[outName])],
        },
      }),
    );
    if (path !== null) await Deno.writeFile(path, bytes);
    return bytes;
  } finally {
    for (const [s, t] of modes) s.training = t;
  }
}
