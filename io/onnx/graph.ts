/**
 * An ONNX model as a checked, topologically ordered graph: attributes decoded, initializers and
 * `Constant` weights as tensors, subgraphs (`If`/`Loop`/`Scan` bodies) with their reads from
 * enclosing scopes, and limits on depth and node count so a hostile file cannot overflow the
 * stack or hang the loader.
 *
 * @module
 */
import { fromBinary } from "@bufbuild/protobuf";
import { FormatError } from "../../core/errors.ts";
import type { Tensor } from "../../core/tensor.ts";
import {
  type AttributeProto,
  AttributeProto_AttributeType as AT,
  type GraphProto,
  type ModelProto,
  ModelProtoSchema,
  type ValueInfoProto,
} from "./onnx_pb.ts";
import { dtypeFromOnnx, type ExternalDataSource, tensorFromProto } from "./tensor_proto.ts";

/** A decoded attribute value. */
export type AttrValue =
  | number
  | string
  | Tensor
  | OnnxGraph
  | number[]
  | string[]
  | Tensor[]
  | OnnxGraph[];

/** One node of a graph. */
export interface OnnxNode {
  /** Node name (may be empty in the file; then `opType#index`). */
  readonly name: string;
  /** Operator name, e.g. "Conv". */
  readonly opType: string;
  /** Operator domain ("" for the default ai.onnx set). */
  readonly domain: string;
  /** Input value names; "" marks an omitted optional input. */
  readonly inputs: readonly string[];
  /** Output value names; "" marks an unused optional output. */
  readonly outputs: readonly string[];
  /** Decoded attributes. */
  readonly attrs: ReadonlyMap<string, AttrValue>;
  /** Values read from enclosing scopes by this node's subgraphs. */
  readonly implicitInputs: readonly string[];
  /**
   * An activation the session's plan fused into this node ("Relu", "Sigmoid"): the node's output
   * is the activation's, and the activation node does not run ("StftMagnitude": the node stands
   * for a whole chain, see fuse_stft.ts). Never set by the parser.
   */
  readonly fusedActivation?: string;
  /**
   * An activation the plan fused into this node's first input ("Relu"): the node reads the
   * activation's input and applies it while reading. Never set by the parser.
   */
  readonly fusedInputActivation?: string;
}

/** A graph input or output with its declared type. */
export interface OnnxValueInfo {
  /** Value name. */
  readonly name: string;
  /** Element dtype name (ours), or null when not a tensor of a supported type. */
  readonly dtype: string | null;
  /** Dimensions: numbers, symbolic names, or null where unknown; null for an unknown rank. */
  readonly shape: (number | string | null)[] | null;
}

/** A graph (the main one or a subgraph). */
export interface OnnxGraph {
  /** Graph name. */
  readonly name: string;
  /** Nodes in an order where every value is produced before it is read. */
  readonly nodes: readonly OnnxNode[];
  /** Declared inputs (without those that are initializers). */
  readonly inputs: readonly OnnxValueInfo[];
  /** Declared outputs. */
  readonly outputs: readonly OnnxValueInfo[];
  /** Weights by name. */
  readonly initializers: ReadonlyMap<string, Tensor>;
  /** Values this graph reads from enclosing scopes. */
  readonly outerReads: readonly string[];
}

/** Options of the model loader. */
export interface ParseOptions {
  /** Folder that external data locations are relative to (default: the model file's folder). */
  baseDir?: string;
  /** Most nodes in the model, subgraphs included (default 1,000,000). */
  maxNodes?: number;
  /** Deepest nesting of subgraphs (default 32). */
  maxDepth?: number;
  /** Name for error messages. */
  name?: string;
}

/** A parsed model. */
export interface OnnxModel {
  /** The main graph. */
  readonly graph: OnnxGraph;
  /** Opset version per domain ("" is ai.onnx). */
  readonly opsets: ReadonlyMap<string, number>;
  /** IR version. */
  readonly irVersion: number;
  /** Producer name and version. */
  readonly producer: string;
}

interface Budget {
  nodes: number;
  readonly maxNodes: number;
  readonly maxDepth: number;
  readonly external?: ExternalDataSource;
  readonly file: string;
}

function valueInfo(v: ValueInfoProto): OnnxValueInfo {
  const tt = v.type?.value.case === "tensorType" ? v.type.value.value : undefined;
  let dtype: string | null = null;
  if (tt !== undefined) {
    try {
      dtype = dtypeFromOnnx(tt.elemType, v.name);
    } catch {
      dtype = null;
    }
  }
  const shape = tt?.shape === undefined
    ? null
    : tt.shape.dim.map((d) =>
      d.value.case === "dimValue"
        ? Number(d.value.value)
        : d.value.case === "dimParam"
        ? d.value.value
        : null
    );
  return { name: v.name, dtype, shape };
}

function attrValue(a: AttributeProto, where: string, b: Budget, depth: number): AttrValue {
  const at = `${where} attribute "${a.name}"`;
  switch (a.type) {
    case AT.FLOAT:
      return a.f;
    case AT.INT:
      return Number(a.i);
    case AT.STRING:
      return new TextDecoder().decode(a.s);
    case AT.TENSOR:
      if (a.t === undefined) throw new FormatError(`${at}: TENSOR attribute without a tensor.`);
      return tensorFromProto(a.t, at, b.external);
    case AT.GRAPH:
      if (a.g === undefined) throw new FormatError(`${at}: GRAPH attribute without a graph.`);
      return buildGraph(a.g, b, depth + 1, at);
    case AT.FLOATS:
      return [...a.floats];
    case AT.INTS:
      return a.ints.map(Number);
    case AT.STRINGS:
      return a.strings.map((s) => new TextDecoder().decode(s));
    case AT.TENSORS:
      return a.tensors.map((t, i) => tensorFromProto(t, `${at}[${i}]`, b.external));
    case AT.GRAPHS:
      return a.graphs.map((g, i) => buildGraph(g, b, depth + 1, `${at}[${i}]`));
    default:
      throw new FormatError(
        `${at}: attribute type ${a.type} is not supported (sparse tensors and type protos).`,
      );
  }
}

/**
 * Build one graph: decode nodes, check names, order nodes topologically (Kahn's algorithm, no
 * recursion over nodes), and collect the values it reads from outside.
 */
function buildGraph(g: GraphProto, b: Budget, depth: number, where: string): OnnxGraph {
  if (depth > b.maxDepth) {
    throw new FormatError(
      `${b.file}: subgraphs nest deeper than ${b.maxDepth} at ${where}. Hint: raise maxDepth ` +
        `if the model is genuine.`,
    );
  }
  b.nodes += g.node.length;
  if (b.nodes > b.maxNodes) {
    throw new FormatError(
      `${b.file}: the model has more than ${b.maxNodes} nodes. Hint: raise maxNodes if the ` +
        `model is genuine.`,
    );
  }
  const gname = g.name || "graph";
  const initializers = new Map<string, Tensor>();
  for (const [i, t] of g.initializer.entries()) {
    if (!t.name) throw new FormatError(`${b.file}: initializer #${i} of ${gname} has no name.`);
    initializers.set(t.name, tensorFromProto(t, `${b.file}: initializer`, b.external));
  }
  if (g.sparseInitializer.length > 0) {
    throw new FormatError(`${b.file}: ${gname} has sparse initializers (not supported).`);
  }
  const nodes: OnnxNode[] = g.node.map((n, i) => {
    const name = n.name || `${n.opType}#${i}`;
    const at = `${b.file}: node "${name}" (${n.opType})`;
    const attrs = new Map<string, AttrValue>();
    for (const a of n.attribute) {
      if (a.refAttrName) throw new FormatError(`${at}: attribute references are not supported.`);
      attrs.set(a.name, attrValue(a, at, b, depth));
    }
    const implicit = new Set<string>();
    for (const v of attrs.values()) {
      const gs = Array.isArray(v) ? v : [v];
      for (const s of gs) {
        if (typeof s === "object" && s !== null && "outerReads" in s) {
          for (const r of s.outerReads) implicit.add(r);
        }
      }
    }
    return {
      name,
      opType: n.opType,
      domain: n.domain === "ai.onnx" ? "" : n.domain,
      inputs: [...n.input],
      outputs: [...n.output],
      attrs,
      implicitInputs: [...implicit],
    };
  });
  // Constant nodes holding a tensor become initializers: decoded once at load, never re-run.
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    const v = n.attrs.get("value");
    if (
      n.opType === "Constant" && n.domain === "" && n.outputs.length === 1 &&
      v !== undefined && typeof v === "object" && !Array.isArray(v) && !("nodes" in v)
    ) {
      if (initializers.has(n.outputs[0]) || g.input.some((x) => x.name === n.outputs[0])) {
        throw new FormatError(`${b.file}: value "${n.outputs[0]}" in ${gname} is produced twice.`);
      }
      initializers.set(n.outputs[0], v as Tensor);
      nodes.splice(i, 1);
    }
  }
  const inputs = g.input.filter((v) => !initializers.has(v.name)).map(valueInfo);
  // Producers: graph inputs, initializers, node outputs. A name produced twice is malformed.
  const producer = new Map<string, number>(); // -1: input or initializer
  for (const v of g.input) producer.set(v.name, -1);
  for (const k of initializers.keys()) producer.set(k, -1);
  nodes.forEach((n, i) => {
    for (const o of n.outputs) {
      if (o === "") continue;
      if (producer.has(o)) {
        throw new FormatError(
          `${b.file}: value "${o}" in ${gname} is produced twice (by node "${n.name}" and ` +
            `earlier). Hint: ONNX graphs are in SSA form.`,
        );
      }
      producer.set(o, i);
    }
  });
  const outerReads = new Set<string>();
  const deps: number[][] = nodes.map(() => []);
  const users: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    for (const v of [...n.inputs, ...n.implicitInputs]) {
      if (v === "") continue;
      const p = producer.get(v);
      if (p === undefined) outerReads.add(v);
      else if (p >= 0 && !deps[i].includes(p)) {
        deps[i].push(p);
        users[p].push(i);
      }
    }
  });
  for (const o of g.output) {
    if (!producer.has(o.name)) outerReads.add(o.name);
  }
  const pending = deps.map((d) => d.length);
  const ready: number[] = [];
  pending.forEach((c, i) => c === 0 && ready.push(i));
  const order: OnnxNode[] = [];
  for (let k = 0; k < ready.length; k++) {
    const i = ready[k];
    order.push(nodes[i]);
    for (const u of users[i]) if (--pending[u] === 0) ready.push(u);
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.filter((_, i) => pending[i] > 0).slice(0, 5).map((n) => `"${n.name}"`);
    throw new FormatError(
      `${b.file}: ${gname} has a cycle: ${nodes.length - order.length} nodes wait on each ` +
        `other (e.g. ${stuck.join(", ")}). Hint: ONNX graphs must be acyclic.`,
    );
  }
  return {
    name: gname,
    nodes: order,
    inputs,
    outputs: g.output.map(valueInfo),
    initializers,
    outerReads: [...outerReads],
  };
}

/**
 * Parse ONNX model bytes into a checked graph. Throws {@link FormatError} on a malformed file,
 * a cycle, values produced twice, values read but never produced, or the limits being exceeded.
 */
export function parseModel(bytes: Uint8Array, options: ParseOptions = {}): OnnxModel {
  const file = options.name ?? "<bytes>";
  let m: ModelProto;
  try {
    m = fromBinary(ModelProtoSchema, bytes);
  } catch (e) {
    throw new FormatError(
      `${file}: not a valid ONNX model (protobuf decoding failed: ${(e as Error).message}). ` +
        `Hint: check that the file is a complete .onnx file.`,
    );
  }
  if (m.graph === undefined) throw new FormatError(`${file}: the model has no graph.`);
  const opsets = new Map<string, number>();
  for (const o of m.opsetImport) {
    opsets.set(o.domain === "ai.onnx" ? "" : o.domain, Number(o.version));
  }
  if (!opsets.has("")) {
    // IR version 3+ requires opset imports; older files meant opset 1.
    opsets.set("", 1);
  }
  const budget: Budget = {
    nodes: 0,
    maxNodes: options.maxNodes ?? 1_000_000,
    maxDepth: options.maxDepth ?? 32,
    external: options.baseDir === undefined ? undefined : { baseDir: options.baseDir },
    file,
  };
  const graph = buildGraph(m.graph, budget, 0, "main graph");
  if (graph.outerReads.length > 0) {
    throw new FormatError(
      `${file}: values read but never produced: ${
        graph.outerReads.slice(0, 10).map((s) => `"${s}"`).join(", ")
      }. Hint: the graph is incomplete (dangling names).`,
    );
  }
  return { graph, opsets, irVersion: Number(m.irVersion), producer: m.producerName };
}

/** Every (domain, op) pair the graph and its subgraphs use, with a count. */
export function opHistogram(g: OnnxGraph, out = new Map<string, number>()): Map<string, number> {
  const stack: OnnxGraph[] = [g];
  while (stack.length > 0) {
    const cur = stack.pop()!;
    for (const n of cur.nodes) {
      const key = n.domain ? `${n.domain}.${n.opType}` : n.opType;
      out.set(key, (out.get(key) ?? 0) + 1);
      for (const v of n.attrs.values()) {
        for (const s of Array.isArray(v) ? v : [v]) {
          if (typeof s === "object" && s !== null && "nodes" in s) stack.push(s as OnnxGraph);
        }
      }
    }
  }
  return out;
}
