/**
 * `exportOnnx`: an ONNX model from any module built of our nn layers and core ops, by tracing a
 * forward call on example inputs (io/onnx/trace.ts: core's trace hook sees every op the
 * dispatcher and the view ops record), mapping each recorded op to ONNX nodes
 * (io/onnx/export_ops.ts) and the tensors it reads that do not depend on the inputs
 * (parameters, buffers, constants) to initializers.
 *
 * Dynamic axes: the call is traced a second time with every dynamic axis of the inputs grown by
 * a distinct prime factor (the example tiled along it); dimensions that change are dynamic, and
 * shape tensors (Reshape, Expand targets) are built from the inputs' `Shape` where they are.
 *
 * @module
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { FormatError } from "../../core/errors.ts";
import { noGrad } from "../../core/autograd.ts";
import type { DType } from "../../core/dtype.ts";
import { fromTyped, full } from "../../core/ops/creation.ts";
import { tile } from "../../core/ops/join.ts";
import type { Shape } from "../../core/shape.ts";
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
import { disposeTrace, type Trace, traceCall } from "./trace.ts";
import { type Attr, type Emit, LOWER, type ValueRef } from "./export_ops.ts";

/** Options of {@link exportOnnx}. */
export interface ExportOnnxOptions {
  /** Opset of the default domain (default 17, the lowest with LayerNormalization). */
  opset?: number;
  /** Symbolic dimensions per input/output name, e.g. `{ x: { 0: "batch" }, y: { 0: "batch" } }`. */
  dynamicAxes?: Record<string, Record<number, string>>;
  /** Input name (default "x"; "x0", "x1", ... for several inputs). */
  inputName?: string;
  /** Input names for several inputs. */
  inputNames?: string[];
  /** Output name (default "y"; "y0", "y1", ... for several outputs). */
  outputName?: string;
  /** Output names for several outputs. */
  outputNames?: string[];
}

/** The parts of an nn module the exporter reads (duck-typed: io does not import nn). */
interface ModuleLike {
  training: boolean;
  call(...xs: Tensor[]): Tensor | Tensor[];
  modules(): ModuleLike[];
  namedParameters(): [string, Tensor][];
  namedBuffers(): [string, Tensor][];
  train(mode?: boolean): unknown;
}

const PRIMES = [2, 3, 5, 7, 11, 13];

class Builder implements Emit {
  nodes: NodeProto[] = [];
  inits: TensorProto[] = [];
  #n = 0;
  #dims = new Map<string, string>();
  constructor(
    readonly opset: number,
    /** Per symbol: its example size and where to read it (input name, axis). */
    readonly symbols: { size: number; input: string; axis: number }[],
  ) {}

  fresh(prefix: string): string {
    return `${prefix}_${this.#n++}`;
  }

  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, outs?: string[]) {
    const o = outs ?? [this.fresh(op.toLowerCase())];
    const attribute: AttributeProto[] = Object.entries(attrs).map(([k, v]) =>
      typeof v === "string"
        ? create(AttributeProtoSchema, { name: k, type: AT.STRING, s: new TextEncoder().encode(v) })
        : Array.isArray(v)
        ? create(AttributeProtoSchema, { name: k, type: AT.INTS, ints: v.map(BigInt) })
        : typeof v === "object"
        ? create(AttributeProtoSchema, { name: k, type: AT.FLOAT, f: v.f })
        : create(AttributeProtoSchema, { name: k, type: AT.INT, i: BigInt(v) })
    );
    this.nodes.push(
      create(NodeProtoSchema, { opType: op, input: inputs, output: o, name: o[0], attribute }),
    );
    return o;
  }

  init(t: Tensor, name: string): string {
    this.inits.push(tensorToProto(t, name));
    return name;
  }

  ints(values: number[]): string {
    const t = fromTyped(BigInt64Array.from(values, BigInt), [values.length], "i64");
    try {
      return this.init(t, this.fresh("ints"));
    } finally {
      t.dispose();
    }
  }

  scalar(value: number, dtype: DType): string {
    const t = full([], value, { dtype });
    try {
      return this.init(t, this.fresh("c"));
    } finally {
      t.dispose();
    }
  }

  /** An i64 [1] tensor holding c·Π symbolᵉ, read from the inputs' shapes. */
  #dim(e: number[], c: number): string {
    const key = `${e.join(",")}*${c}`;
    const known = this.#dims.get(key);
    if (known) return known;
    let acc: string | null = c === 1 ? null : this.ints([c]);
    e.forEach((k, s) => {
      const sym = this.symbols[s];
      for (let i = 0; i < k; i++) {
        const shape = this.node("Shape", [sym.input])[0];
        const d = this.node("Gather", [shape, this.ints([sym.axis])], { axis: 0 })[0];
        acc = acc === null ? d : this.node("Mul", [acc, d])[0];
      }
    });
    const name = acc ?? this.ints([c]);
    this.#dims.set(key, name);
    return name;
  }

  shape(out: Shape, alt: Shape, like?: ValueRef): string {
    const dyn = out.map((d, i) => d !== alt[i]);
    if (!dyn.some(Boolean)) return this.ints([...out]);
    const dims: (number | null)[] = out.map((d, i) => (dyn[i] ? null : d));
    if (like) {
      // Reshape: 0 copies the input's dimension at the same index.
      dims.forEach((d, i) => {
        if (d === null && like.shape[i] === out[i] && like.alt[i] === alt[i]) dims[i] = 0;
      });
      const open = dims.filter((d) => d === null).length;
      if (open === 1) dims[dims.indexOf(null)] = -1;
    }
    if (!dims.includes(null)) return this.ints(dims as number[]);
    const parts = dims.map((d, i) => {
      if (d !== null) return this.ints([d]);
      const [e, c] = this.factor(out[i], alt[i]);
      return this.#dim(e, c);
    });
    return this.node("Concat", parts, { axis: 0 })[0];
  }

  /** Exponents of the symbols in a dimension (size, perturbed size) and its constant factor. */
  factor(size: number, alt: number): [number[], number] {
    const n = this.symbols.length;
    for (let code = 0; code < 4 ** n; code++) {
      const e = Array.from({ length: n }, (_, k) => Math.floor(code / 4 ** k) % 4);
      const r = e.reduce((p, k, s) => p * PRIMES[s] ** k, 1);
      const base = e.reduce((p, k, s) => p * this.symbols[s].size ** k, 1);
      if (size * r === alt && size % base === 0) return [e, size / base];
    }
    throw new FormatError(
      `exportOnnx: a dimension of size ${size} (${alt} with the dynamic axes grown) is not a ` +
        `product of the dynamic axes. Hint: export with static axes (no dynamicAxes) or keep ` +
        `shapes computed from the dynamic axes by multiplication only.`,
    );
  }
}

function info(name: string, dtype: DType, shape: Shape, dyn: (string | null)[]): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: {
      value: {
        case: "tensorType",
        value: {
          elemType: onnxFromDtype(dtype, "exportOnnx"),
          shape: {
            dim: shape.map((d, i) => ({
              value: dyn[i] !== null
                ? { case: "dimParam" as const, value: dyn[i]! }
                : { case: "dimValue" as const, value: BigInt(d) },
            })),
          },
        },
      },
    },
  });
}

/** The value ids whose ops an output needs (dead ops dropped). */
function live(t: Trace): boolean[] {
  const need = new Set(t.outputs);
  const keep = t.ops.map(() => false);
  for (let i = t.ops.length - 1; i >= 0; i--) {
    if (!t.ops[i].outputs.some((o) => need.has(o))) continue;
    keep[i] = true;
    for (const x of t.ops[i].inputs) if ("v" in x) need.add(x.v);
  }
  return keep;
}

/**
 * Export `module` (any module built of our nn layers and core ops; its forward may take several
 * tensors and return one or several) as an ONNX model, by tracing a forward call on
 * `exampleInputs`. Runs in evaluation mode (batch norm uses its running statistics, dropout is
 * the identity) and restores the module's modes after. Writes `path` when given and returns the
 * model bytes. Control flow that depends on values is fixed to the example's path.
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
  exampleInputs: Tensor | Tensor[],
  path: string | null,
  options: ExportOnnxOptions = {},
): Promise<Uint8Array> {
  const bytes = exportOnnxSync(module, exampleInputs, options);
  if (path !== null) await Deno.writeFile(path, bytes);
  return bytes;
}

/**
 * {@link exportOnnx} without writing a file: the model bytes.
 *
 * @example
 * ```ts ignore
 * import { nn, randn } from "@aprender/compute";
 * import { exportOnnxSync } from "@aprender/compute/io";
 * const bytes = exportOnnxSync(new nn.Linear(4, 2), randn([1, 4]));
 * ```
 */
export function exportOnnxSync(
  module: unknown,
  exampleInputs: Tensor | Tensor[],
  options: ExportOnnxOptions = {},
): Uint8Array {
  const m = module as ModuleLike;
  const xs = Array.isArray(exampleInputs) ? exampleInputs : [exampleInputs];
  const opset = options.opset ?? 17;
  const inNames = options.inputNames ??
    (xs.length === 1 ? [options.inputName ?? "x"] : xs.map((_, i) => `x${i}`));
  if (inNames.length !== xs.length) {
    throw new FormatError(
      `exportOnnx: ${inNames.length} input names for ${xs.length} example inputs.`,
    );
  }
  // Symbols: one per distinct dynamic-axis name of the inputs.
  const symNames: string[] = [];
  const symbols: { size: number; input: string; axis: number }[] = [];
  const reps = xs.map((x, i) => {
    const r = x.shape.map(() => 1);
    for (const [ax, name] of Object.entries(options.dynamicAxes?.[inNames[i]] ?? {})) {
      const a = Number(ax);
      if (!(a >= 0 && a < x.ndim)) {
        throw new FormatError(
          `exportOnnx: dynamic axis ${ax} of input "${inNames[i]}" is out of range for its ` +
            `shape ${JSON.stringify(x.shape)}.`,
        );
      }
      let s = symNames.indexOf(name);
      if (s < 0) {
        if (symNames.length === PRIMES.length) {
          throw new FormatError(`exportOnnx: at most ${PRIMES.length} dynamic axis names.`);
        }
        s = symNames.push(name) - 1;
        symbols.push({ size: x.shape[a], input: inNames[i], axis: a });
      }
      r[a] = PRIMES[s];
    }
    return r;
  });
  const names = new Map<Tensor, string>();
  for (const [n, p] of [...m.namedParameters(), ...m.namedBuffers()]) names.set(p, n);
  const modes = m.modules().map((s) => [s, s.training] as const);
  m.train(false);
  const fn = (...a: Tensor[]) => m.call(...a);
  let t: Trace | null = null, alt: Trace | null = null;
  try {
    t = traceCall(fn, xs, names);
    if (symbols.length) {
      const grown = noGrad(() =>
        xs.map((x, i) => (reps[i].some((r) => r > 1) ? tile(x, reps[i]) : x))
      );
      try {
        alt = traceCall(fn, grown, names);
      } finally {
        grown.forEach((g, i) => g !== xs[i] && g.dispose());
      }
      if (
        alt.ops.length !== t.ops.length || alt.ops.some((o, i) => o.op !== t!.ops[i].op)
      ) {
        throw new FormatError(
          `exportOnnx: the forward call runs different ops when the dynamic axes change size ` +
            `(${t.ops.length} vs ${alt.ops.length} ops). Hint: export with static shapes.`,
        );
      }
    }
    return build(t, alt, opset, symbols, symNames, inNames, options);
  } finally {
    for (const [s, mode] of modes) s.training = mode;
    if (t) disposeTrace(t);
    if (alt) disposeTrace(alt);
  }
}

function build(
  t: Trace,
  alt: Trace | null,
  opset: number,
  symbols: { size: number; input: string; axis: number }[],
  symNames: string[],
  inNames: string[],
  options: ExportOnnxOptions,
): Uint8Array {
  const b = new Builder(opset, symbols);
  const valueName = (id: number) => (id < inNames.length ? inNames[id] : `v${id}`);
  const constName: string[] = [];
  const used = new Set<string>();
  const constRef = (c: number): ValueRef => {
    const k = t.consts[c];
    if (constName[c] === undefined) {
      let n = k.name ?? `const_${c}`;
      if (used.has(n)) n = `${n}_${c}`;
      used.add(n);
      constName[c] = b.init(k.tensor, n);
    }
    const shape = [...k.tensor.shape];
    return {
      name: constName[c],
      shape,
      alt: shape,
      dtype: k.tensor.dtype as DType,
      constant: true,
    };
  };
  const valueRef = (id: number): ValueRef => ({
    name: valueName(id),
    shape: t.values[id].shape,
    alt: alt ? alt.values[id].shape : t.values[id].shape,
    dtype: t.values[id].dtype,
    constant: false,
  });
  const keep = live(t);
  t.ops.forEach((o, i) => {
    if (!keep[i]) return;
    const lower = LOWER[o.op];
    if (!lower) {
      throw new FormatError(
        `exportOnnx: no ONNX mapping for op "${o.op}" (inputs ${
          o.inputs.map((x) =>
            JSON.stringify("v" in x ? t.values[x.v].shape : t.consts[x.c].tensor.shape)
          ).join(", ")
        }). Hint: see io/onnx/export_ops.ts for the mapped ops.`,
      );
    }
    lower({
      b,
      op: o.op,
      attrs: o.attrs,
      ins: o.inputs.map((x) => ("v" in x ? valueRef(x.v) : constRef(x.c))),
      outs: o.outputs.map(valueRef),
    });
  });
  const outNames = options.outputNames ??
    (t.outputs.length === 1 ? [options.outputName ?? "y"] : t.outputs.map((_, i) => `y${i}`));
  if (outNames.length !== t.outputs.length) {
    throw new FormatError(
      `exportOnnx: ${outNames.length} output names for ${t.outputs.length} outputs.`,
    );
  }
  const outputs = t.outputs.map((id, i) => {
    b.node("Identity", [valueName(id)], {}, [outNames[i]]);
    const v = valueRef(id), given = options.dynamicAxes?.[outNames[i]];
    const dyn = v.shape.map((d, k) => {
      if (given?.[k] !== undefined) return given[k];
      if (d === v.alt[k]) return null;
      const [e, c] = b.factor(d, v.alt[k]);
      const one = e.findIndex((x) => x === 1);
      const single = c === 1 && one >= 0 && e.every((x, s) => x === (s === one ? 1 : 0));
      return single ? symNames[one] : `${outNames[i]}_dim${k}`;
    });
    return info(outNames[i], v.dtype, v.shape, dyn);
  });
  const inputs = inNames.map((n, i) => {
    const v = valueRef(i), given = options.dynamicAxes?.[n] ?? {};
    return info(n, v.dtype, v.shape, v.shape.map((_, k) => given[k] ?? null));
  });
  return toBinary(
    ModelProtoSchema,
    create(ModelProtoSchema, {
      irVersion: 8n,
      opsetImport: [{ domain: "", version: BigInt(opset) }],
      producerName: "@aprender/compute",
      graph: { name: "main", node: b.nodes, initializer: b.inits, input: inputs, output: outputs },
    }),
  );
}
