/**
 * A graph's run plan, computed once per graph: each node's operator and opset, when each value
 * dies, which nodes fold to constants (they read only initializers, folded values or constants of
 * the enclosing graphs) and which compute only from shapes or small integer feeds (their outputs
 * are memoized by their input values, so shape arithmetic runs once per distinct input shape).
 *
 * @module
 */
import { keep } from "../../core/memory.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { OnnxGraph, OnnxNode } from "./graph.ts";
import { frozenId, type OpFn, OPS } from "./ops/registry.ts";
import { findStftChains, fusedNode, stftMagnitudeFn } from "./fuse_stft.ts";
import { findResidualBlocks, residualFn, residualNode } from "./fuse_residual.ts";

/** A graph's plan (see the module doc). */
export interface Plan {
  /** The nodes to run, in order: the graph's, with fused activations folded into their producer. */
  readonly nodes: readonly OnnxNode[];
  /** For node k: the values (by name) whose last reader in this graph is node k. */
  readonly dying: readonly string[][];
  /** For node k: its operator, looked up once. */
  readonly fns: readonly OpFn[];
  /** For node k: the opset of its domain. */
  readonly opsets: readonly number[];
  /** For node k: whether it reads only constants (computed once). */
  readonly folded: readonly boolean[];
  /** For node k: its memo when its outputs depend only on shapes, else null. */
  readonly memo: readonly (Memo | null)[];
  /** Names that are constant in this graph (initializers, folded, the enclosing constants). */
  readonly constants: ReadonlySet<string>;
}

/** Operators whose outputs differ between runs on the same inputs: never folded. */
const RANDOM = new Set([
  "RandomNormal",
  "RandomUniform",
  "RandomNormalLike",
  "RandomUniformLike",
  "Multinomial",
  "Bernoulli",
  "Dropout",
]);

/** Dtypes of feeds whose values key a memo (small integers and flags, never float data). */
const INT_LIKE = new Set(["i64", "i32", "i16", "i8", "u8", "u16", "u32", "u64", "bool"]);

/** Operators whose output depends only on the input's shape (and dtype). */
const SHAPE_OF = new Set(["Shape", "Size"]);

/** Inputs larger than this are not keyed (shape arithmetic reads a few numbers). */
const MEMO_MAX_ELEMENTS = 64;
/** Distinct input keys kept per node (shapes of a model change rarely). */
const MEMO_MAX_KEYS = 16;

/** Whether node `n` has a subgraph attribute. */
export function hasSubgraph(n: OnnxNode): boolean {
  for (const v of n.attrs.values()) {
    for (const s of Array.isArray(v) ? v : [v]) {
      if (typeof s === "object" && s !== null && "nodes" in s) return true;
    }
  }
  return false;
}

/**
 * Outputs of a node computed from shapes only, by a key made of its inputs' dtypes, shapes and
 * (for all but Shape/Size) values. Kept tensors are never disposed nor handed out (the session
 * treats them as constants).
 */
export class Memo {
  readonly #byKey = new Map<string, Tensor[]>();
  readonly #shapeOnly: boolean;

  /**
   * A memo for one node.
   *
   * @param shapeOnly the key is the input's shape and dtype (Shape, Size), not its values
   */
  constructor(shapeOnly: boolean) {
    this.#shapeOnly = shapeOnly;
  }

  /** The key of these inputs, or null when they are too large or not on the CPU. */
  key(inputs: readonly (Tensor | undefined)[]): string | null {
    let k = "";
    for (const t of inputs) {
      if (t === undefined) {
        k += "-;";
        continue;
      }
      k += `${t.dtype}[${t.shape.join(",")}]`;
      if (this.#shapeOnly) continue;
      // A constant or an output kept by another memo: named by identity (no read).
      const id = frozenId(t);
      if (id !== undefined) {
        k += `#${id};`;
        continue;
      }
      if (t.device !== "cpu" || t.size > MEMO_MAX_ELEMENTS) return null;
      const d = t.dataSync() as ArrayLike<number | bigint>;
      for (let i = 0; i < d.length; i++) k += `${d[i]},`;
      k += ";";
    }
    return k;
  }

  /** The outputs kept for `key`, if any. */
  get(key: string): Tensor[] | undefined {
    return this.#byKey.get(key);
  }

  /** Keep `outs` for `key` (while fewer than MEMO_MAX_KEYS are kept); whether they were kept. */
  set(key: string, outs: Tensor[]): boolean {
    if (this.#byKey.size >= MEMO_MAX_KEYS) return false;
    for (const t of outs) keep(t);
    this.#byKey.set(key, outs);
    return true;
  }

  /** Every kept tensor. */
  *tensors(): Iterable<Tensor> {
    for (const l of this.#byKey.values()) yield* l;
  }
}

/**
 * Build graph `g`'s plan.
 *
 * @param g the graph
 * @param opsetOf the model's opset of a domain
 * @param outerConstants names constant in the enclosing graphs (empty for the main graph)
 * @param missing called for a node without an operator (throws)
 * @param host whether values live on the CPU (the STFT chain is fused only there)
 */
/** Producers whose next node is an activation they can apply while writing their output. */
const FUSABLE = new Set(["Conv"]);
/** Activations a fusable producer applies (conv_small.ts, nn.ts). */
const ACTIVATIONS = new Set(["Relu", "Sigmoid"]);

/**
 * The graph's nodes with each Conv whose only reader is a Relu or a Sigmoid taking that
 * activation's output (the activation dropped): one node, one output tensor fewer per pair.
 */
function fuseActivations(g: OnnxGraph): OnnxNode[] {
  const reads = new Map<string, number>();
  const count = (v: string) => v !== "" && reads.set(v, (reads.get(v) ?? 0) + 1);
  for (const n of g.nodes) {
    n.inputs.forEach(count);
    n.implicitInputs.forEach(count);
  }
  g.outputs.forEach((o) => count(o.name));
  const readerOf = new Map<string, number>();
  g.nodes.forEach((n, j) => n.inputs.forEach((v) => v !== "" && readerOf.set(v, j)));
  const out: (OnnxNode | null)[] = [...g.nodes];
  g.nodes.forEach((n, k) => {
    if (n.domain !== "" || !FUSABLE.has(n.opType) || n.outputs.length !== 1) return;
    const o = n.outputs[0];
    if (o === "" || reads.get(o) !== 1) return;
    const j = readerOf.get(o);
    if (j === undefined) return; // read only by a subgraph
    const r = g.nodes[j];
    if (j <= k || r.domain !== "" || !ACTIVATIONS.has(r.opType) || r.inputs[0] !== o) return;
    if (out[j] === null || out[k] === null || r.outputs.length !== 1) return;
    out[k] = { ...n, outputs: [r.outputs[0]], fusedActivation: r.opType };
    out[j] = null;
  });
  // A Relu whose only reader is a Conv's data input: the Conv applies it while reading.
  g.nodes.forEach((n, k) => {
    if (n.domain !== "" || n.opType !== "Relu" || n.outputs.length !== 1) return;
    const o = n.outputs[0];
    if (o === "" || reads.get(o) !== 1 || out[k] === null) return;
    const j = readerOf.get(o);
    const c = j === undefined ? null : out[j];
    if (j === undefined || j <= k || c === null || c.domain !== "" || !FUSABLE.has(c.opType)) {
      return;
    }
    if (c.inputs[0] !== o || c.inputs.indexOf(o, 1) !== -1 || c.fusedInputActivation) return;
    out[j] = { ...c, inputs: [n.inputs[0], ...c.inputs.slice(1)], fusedInputActivation: "Relu" };
    out[k] = null;
  });
  return out.filter((n): n is OnnxNode => n !== null);
}

export function buildPlan(
  g: OnnxGraph,
  opsetOf: (domain: string) => number,
  outerConstants: ReadonlySet<string>,
  missing: (node: OnnxNode) => never,
  host = true,
): Plan {
  const fnOf = (node: OnnxNode) =>
    OPS.get(node.domain === "" ? node.opType : `${node.domain}.${node.opType}`) ?? missing(node);
  let nodes = fuseActivations(g);
  // STFT magnitude chains: one node each, at the place of the chain's last node.
  const fusedFns = new Map<OnnxNode, OpFn>();
  const gone = new Set<OnnxNode>();
  // (CPU sessions only: a GPU session places each node's inputs by its operator's needs.)
  for (const c of host ? findStftChains(g, nodes, fnOf, (n) => opsetOf(n.domain)) : []) {
    const f = fusedNode(c);
    fusedFns.set(f, stftMagnitudeFn(c, f));
    c.nodes.forEach((n) => gone.add(n));
    const last = c.nodes[c.nodes.length - 1];
    nodes = nodes.map((n) => (n === last ? f : n));
  }
  nodes = nodes.filter((n) => !gone.has(n));
  // Residual blocks (Conv → Add (of a zero-padded Concat) → Relu): one node each, CPU only (the
  // sum and the Relu are written in place).
  for (const b of host ? findResidualBlocks(g, nodes) : []) {
    const members = [b.conv, b.concat, b.add, b.relu].filter((n): n is OnnxNode => n !== null);
    const f = residualNode(b);
    const fnsOf = members.map((n) => fusedFns.get(n) ?? fnOf(n));
    fusedFns.set(f, residualFn(b, f, fnsOf, members.map((n) => opsetOf(n.domain))));
    const last = members[members.length - 1];
    nodes = nodes.filter((n) => n === last || !members.includes(n)).map((n) => n === last ? f : n);
  }
  const last = new Map<string, number>();
  nodes.forEach((n, k) => {
    for (const v of n.inputs) if (v !== "") last.set(v, k);
    for (const v of n.implicitInputs) last.set(v, k);
  });
  const outputs = new Set(g.outputs.map((o) => o.name));
  const dying: string[][] = nodes.map(() => []);
  const produced = new Set(nodes.flatMap((n) => n.outputs));
  for (const [v, k] of last) if (produced.has(v) && !outputs.has(v)) dying[k].push(v);
  // Outputs nobody reads die right after their node.
  nodes.forEach((n, k) => {
    for (const o of n.outputs) if (o !== "" && !last.has(o) && !outputs.has(o)) dying[k].push(o);
  });
  const fns = nodes.map((node) => fusedFns.get(node) ?? fnOf(node));
  const opsets = nodes.map((node) => opsetOf(node.domain));
  // Constants: initializers no feed overrides, the enclosing graphs' constants no input of this
  // graph shadows, and outputs of folded nodes.
  const fed = new Set(g.inputs.map((v) => v.name));
  const constants = new Set<string>();
  for (const k of outerConstants) if (!fed.has(k)) constants.add(k);
  for (const k of g.initializers.keys()) if (!fed.has(k)) constants.add(k);
  // Values keyed by what they hold: shapes and what is computed from them, and small integer
  // feeds (a sample rate, a step count) with what is computed from those.
  const shapeValues = new Set<string>(
    g.inputs.filter((v) => v.dtype !== null && INT_LIKE.has(v.dtype)).map((v) => v.name),
  );
  const folded: boolean[] = [];
  const memo: (Memo | null)[] = [];
  for (const n of nodes) {
    const plain = n.domain === "" && !RANDOM.has(n.opType) && n.implicitInputs.length === 0 &&
      !hasSubgraph(n);
    const used = n.inputs.filter((v) => v !== "");
    const fold = plain && used.length > 0 && used.every((v) => constants.has(v));
    folded.push(fold);
    if (fold) {
      for (const o of n.outputs) if (o !== "") constants.add(o);
      memo.push(null);
      continue;
    }
    const shapeOf = plain && SHAPE_OF.has(n.opType);
    const fromShapes = plain && used.length > 0 &&
      used.every((v) => constants.has(v) || shapeValues.has(v));
    if (shapeOf || fromShapes) {
      for (const o of n.outputs) if (o !== "") shapeValues.add(o);
      memo.push(new Memo(shapeOf));
    } else memo.push(null);
  }
  return { nodes, dying, fns, opsets, folded, memo, constants };
}
