/**
 * Residual-block fusion for CPU sessions: `Relu(Add(Conv(…), r))`, where the residual `r` may be
 * `Concat([r0, zeros], axis 1)` (BlazeFace and other TF-exported CNNs widen the skip path with a
 * Concat of zeros before the Add), becomes one node. It runs the Conv as usual, adds `r0` into the
 * conv output's first channels in place (the zero channels add nothing: no Concat, no new tensor
 * for the sum) and applies the Relu in place.
 *
 * The plan matches the wiring only (op types and single readers); what gives the pattern its
 * meaning — f32 CPU tensors, the Concat's axis, shapes that need no broadcasting, a zero tensor
 * that really holds zeros — is checked when the node runs (the zero check once per tensor), and
 * anything else runs the original nodes one by one, so the fused node always computes what they
 * compute.
 *
 * @module
 */
import { runKernel1 } from "../../core/op.ts";
import { addReluInHeap } from "../../backends/runtime.ts";
import { tidy } from "../../core/memory.ts";
import * as V from "../../core/ops/view.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { OnnxGraph, OnnxNode } from "./graph.ts";
import type { OpContext, OpFn } from "./ops/registry.ts";
import { readF32 } from "./ops/host.ts";

/** A matched block: its nodes in graph order (Conv, Concat?, Add, Relu?). */
export interface ResidualBlock {
  /** The Conv whose only reader is the Add. */
  readonly conv: OnnxNode;
  /** The Concat that widens the skip path (read only by the Add), or null. */
  readonly concat: OnnxNode | null;
  /** The Add of the conv output and the skip path. */
  readonly add: OnnxNode;
  /** The Add's only reader, a Relu, or null. */
  readonly relu: OnnxNode | null;
}

/**
 * The residual blocks among `nodes` (graph `g`'s, after activation fusion): an Add of a Conv's
 * output (read only by that Add) and a residual — a value, or a two-input Concat read only by
 * that Add — optionally followed by the Add's only reader, a Relu.
 */
export function findResidualBlocks(g: OnnxGraph, nodes: readonly OnnxNode[]): ResidualBlock[] {
  const reads = new Map<string, number>();
  const count = (v: string) => v !== "" && reads.set(v, (reads.get(v) ?? 0) + 1);
  for (const n of nodes) {
    n.inputs.forEach(count);
    n.implicitInputs.forEach(count);
  }
  g.outputs.forEach((o) => count(o.name));
  const producer = new Map<string, OnnxNode>();
  const reader = new Map<string, OnnxNode>();
  for (const n of nodes) {
    for (const o of n.outputs) if (o !== "") producer.set(o, n);
    for (const v of n.inputs) if (v !== "") reader.set(v, n);
  }
  const plain = (n: OnnxNode | undefined, op: string): n is OnnxNode =>
    n !== undefined && n.domain === "" && n.opType === op && n.outputs.length === 1;
  const once = (v: string) => reads.get(v) === 1;
  const used = new Set<OnnxNode>();
  const blocks: ResidualBlock[] = [];
  for (const add of nodes) {
    if (!plain(add, "Add") || add.inputs.length !== 2) continue;
    for (const side of [0, 1]) {
      const conv = producer.get(add.inputs[side]);
      if (!plain(conv, "Conv") || conv.fusedActivation === "StftMagnitude") continue;
      if (!once(conv.outputs[0]) || add.inputs[1 - side] === add.inputs[side]) continue;
      const other = producer.get(add.inputs[1 - side]);
      const concat = plain(other, "Concat") && other.inputs.length === 2 &&
          once(other.outputs[0])
        ? other
        : null;
      const next = reader.get(add.outputs[0]);
      const relu = once(add.outputs[0]) && plain(next, "Relu") && next.inputs[0] === add.outputs[0]
        ? next
        : null;
      const members = [conv, concat, add, relu].filter((n): n is OnnxNode => n !== null);
      if (members.some((n) => used.has(n))) continue;
      members.forEach((n) => used.add(n));
      blocks.push({ conv, concat, add, relu });
      break;
    }
  }
  return blocks;
}

/** The node standing for a block, at the place of its last node. */
export function residualNode(b: ResidualBlock): OnnxNode {
  const last = b.relu ?? b.add;
  const made = new Set([b.conv, b.concat, b.add].flatMap((n) => n?.outputs ?? []));
  const inputs: string[] = [];
  for (const n of [b.conv, b.concat, b.add, b.relu]) {
    for (const v of n?.inputs ?? []) {
      if (v !== "" && !made.has(v) && !inputs.includes(v)) inputs.push(v);
    }
  }
  return {
    name: `${b.conv.name}+Residual`,
    opType: "Conv",
    domain: "",
    inputs,
    outputs: last.outputs,
    attrs: b.conv.attrs,
    implicitInputs: [],
    fusedInputActivation: b.conv.fusedInputActivation,
    fusedActivation: `${b.conv.fusedActivation ? `${b.conv.fusedActivation}+` : ""}${
      b.concat ? "Concat+" : ""
    }Add${b.relu ? "+Relu" : ""}`,
  };
}

/** A 4-D f32 CPU tensor. */
const cpu4 = (t: Tensor | undefined): t is Tensor =>
  t !== undefined && t.device === "cpu" && t.dtype === "f32" && t.ndim === 4;

/**
 * The operator of a fused block: `fns`/`opsets` are those of the block's nodes in the order
 * conv, concat, add, relu (absent ones skipped).
 */
export function residualFn(
  b: ResidualBlock,
  fused: OnnxNode,
  fns: readonly OpFn[],
  opsets: readonly number[],
): OpFn {
  const members = [b.conv, b.concat, b.add, b.relu].filter((n): n is OnnxNode => n !== null);
  const fnOf = new Map(members.map((n, i) => [n, [fns[i], opsets[i]] as const]));
  const skip = b.add.inputs[0] === b.conv.outputs[0] ? b.add.inputs[1] : b.add.inputs[0];
  // The zero tensor last seen to hold only zeros (a session constant: checked once).
  let zeroSeen: Tensor | null = null;
  const isZero = (z: Tensor) => {
    if (z === zeroSeen) return true;
    if (!z.isContiguous) return false;
    const v = readF32(z);
    for (let i = 0; i < v.length; i++) if (v[i] !== 0) return false;
    zeroSeen = z;
    return true;
  };
  const call = (n: OnnxNode, vals: Map<string, Tensor | undefined>, ctx: OpContext) => {
    const [fn, opset] = fnOf.get(n)!;
    const sub: OpContext = { node: n, opset, runGraph: ctx.runGraph };
    return fn(n.inputs.map((v) => (v === "" ? undefined : vals.get(v))), sub);
  };
  /** The tensor to add into y's first channels in place, or null (run the nodes one by one). */
  const residual = (
    y: Tensor,
    vals: Map<string, Tensor | undefined>,
    inputs: (Tensor | undefined)[],
  ): Tensor | null => {
    if (!cpu4(y) || !y.isContiguous || y.requiresGrad || inputs.includes(y)) return null;
    let r = vals.get(skip);
    if (b.concat !== null) {
      const [a, z] = b.concat.inputs.map((v) => vals.get(v));
      const axis = b.concat.attrs.get("axis");
      if ((axis !== 1 && axis !== -3) || !cpu4(a) || !cpu4(z) || z.shape[1] === 0) return null;
      if (!isZero(z) || a.shape[1] + z.shape[1] !== y.shape[1]) return null;
      if (![0, 2, 3].every((d) => z.shape[d] === a.shape[d])) return null;
      r = a;
    }
    if (!cpu4(r) || ![0, 2, 3].every((d) => r.shape[d] === y.shape[d])) return null;
    return r.shape[1] === y.shape[1] || (b.concat !== null && r.shape[1] < y.shape[1]) ? r : null;
  };
  return (inputs, ctx) =>
    tidy(() => {
      const vals = new Map<string, Tensor | undefined>();
      fused.inputs.forEach((v, i) => vals.set(v, inputs[i]));
      const [y] = call(b.conv, vals, ctx);
      const r = residual(y, vals, inputs);
      if (r === null) {
        vals.set(b.conv.outputs[0], y);
        for (const n of [b.concat, b.add, b.relu]) {
          if (n === null) continue;
          const outs = call(n, vals, ctx);
          n.outputs.forEach((o, i) => vals.set(o, outs[i]));
        }
        return [vals.get(fused.outputs[0])!];
      }
      if (b.relu !== null && addReluInHeap(y, r)) return [y];
      const head = r.shape[1] === y.shape[1] ? y : V.slice(y, null, [0, r.shape[1]]);
      runKernel1("add", [head, r], {}, head);
      if (b.relu !== null) runKernel1("relu", [y], {}, y);
      return [y];
    });
}
