/**
 * Fusion of the STFT magnitude chain that PyTorch exports for a convolutional STFT (Silero VAD):
 * `Pad(x, reflect)` → `Unsqueeze(axis 1)` → `Conv(1-D, one input channel, no bias)` → `Slice`s
 * taking the real half and the imaginary half of the channels → `Cast(float)` → `Pow(·, 2)` each →
 * `Add` → `Sqrt`. Thirteen nodes become one: the reflected frames are gathered in JS, multiplied
 * by the basis in one matmul, and the magnitude is taken while the output is laid out.
 *
 * The plan matches the wiring (op types, single readers, nothing read outside the chain); the
 * values that decide the meaning (pads, axes, slice bounds, exponents, Conv attributes) are
 * checked when the node runs, and anything else runs the original nodes one by one, so the fused
 * node always computes what the chain computes.
 *
 * @module
 */
import { matmul } from "../../core/ops/matmul.ts";
import * as V from "../../core/ops/view.ts";
import { tidy } from "../../core/memory.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { OnnxGraph, OnnxNode } from "./graph.ts";
import type { OpContext, OpFn } from "./ops/registry.ts";
import { newF32, readF32 } from "./ops/host.ts";

/** A fused chain (see the module doc): its nodes in graph order (the Sqrt last) and their operators and opsets. */
export interface Chain {
  readonly nodes: readonly OnnxNode[];
  readonly fns: readonly OpFn[];
  readonly opsets: readonly number[];
  readonly pad: OnnxNode;
  readonly unsqueeze: OnnxNode;
  readonly conv: OnnxNode;
  /** The slices, casts and pow of each half, from the conv output to the Pow. */
  readonly halves: readonly (readonly OnnxNode[])[];
}

/** Where a value is produced and who reads it in graph `g`. */
function wiring(g: OnnxGraph, nodes: readonly OnnxNode[]) {
  const producer = new Map<string, OnnxNode>();
  const readers = new Map<string, OnnxNode[]>();
  const sub = new Set<string>();
  for (const n of nodes) {
    for (const o of n.outputs) if (o !== "") producer.set(o, n);
    for (const v of n.inputs) {
      if (v !== "") readers.set(v, [...(readers.get(v) ?? []), n]);
    }
    for (const v of n.implicitInputs) sub.add(v);
  }
  for (const o of g.outputs) sub.add(o.name);
  return { producer, readers, sub };
}

/**
 * The chains of `nodes` (graph `g`'s, in order) that fuse; each as the nodes it replaces.
 * `fnOf` and `opsetOf` give each node's operator and opset.
 */
export function findStftChains(
  g: OnnxGraph,
  nodes: readonly OnnxNode[],
  fnOf: (n: OnnxNode) => OpFn,
  opsetOf: (n: OnnxNode) => number,
): Chain[] {
  const { producer, readers, sub } = wiring(g, nodes);
  const is = (n: OnnxNode | undefined, op: string): n is OnnxNode =>
    n !== undefined && n.domain === "" && n.opType === op && n.outputs.length === 1;
  // A value read only by `reader` (once), not a graph output nor read by a subgraph.
  const only = (v: string, reader: OnnxNode) =>
    !sub.has(v) && (readers.get(v) ?? []).every((r) => r === reader) &&
    (readers.get(v) ?? []).length === 1;
  const chains: Chain[] = [];
  for (const sqrt of nodes) {
    if (!is(sqrt, "Sqrt")) continue;
    const add = producer.get(sqrt.inputs[0]);
    if (!is(add, "Add") || !only(add.outputs[0], sqrt) || add.inputs[0] === add.inputs[1]) {
      continue;
    }
    let conv: OnnxNode | undefined;
    const halves: OnnxNode[][] = [];
    let ok = true;
    for (const v of add.inputs) {
      const pow = producer.get(v);
      if (!is(pow, "Pow") || !only(v, add)) {
        ok = false;
        break;
      }
      const half = [pow];
      let cur = pow;
      for (;;) {
        const p = producer.get(cur.inputs[0]);
        if (p === undefined) {
          ok = false;
          break;
        }
        if (is(p, "Conv")) {
          if (conv !== undefined && conv !== p) ok = false;
          conv = p;
          break;
        }
        if (!(is(p, "Slice") || is(p, "Cast"))) {
          ok = false;
          break;
        }
        half.unshift(p);
        cur = p;
      }
      if (!ok) break;
      halves.push(half);
    }
    if (!ok || conv === undefined || halves.length !== 2) continue;
    const unsqueeze = producer.get(conv.inputs[0]);
    if (!is(unsqueeze, "Unsqueeze") || !only(conv.inputs[0], conv)) continue;
    const pad = producer.get(unsqueeze.inputs[0]);
    if (!is(pad, "Pad") || !only(unsqueeze.inputs[0], unsqueeze)) continue;
    // Every value between the conv and the pows is read inside the chain only.
    const inner = new Set([...halves[0], ...halves[1]]);
    const convReaders = readers.get(conv.outputs[0]) ?? [];
    if (sub.has(conv.outputs[0]) || !convReaders.every((r) => inner.has(r))) continue;
    const innerOk = [...inner].every((n) =>
      n.opType === "Pow" ||
      (!sub.has(n.outputs[0]) && (readers.get(n.outputs[0]) ?? []).every((r) => inner.has(r)))
    );
    if (!innerOk) continue;
    const set = new Set([pad, unsqueeze, conv, ...inner, add, sqrt]);
    const ordered = nodes.filter((n) => set.has(n));
    if (ordered[ordered.length - 1] !== sqrt) continue;
    chains.push({
      nodes: ordered,
      fns: ordered.map(fnOf),
      opsets: ordered.map(opsetOf),
      pad,
      unsqueeze,
      conv,
      halves,
    });
  }
  return chains;
}

/** The fused node of `chain`: the chain's outside inputs, the Sqrt's output. */
export function fusedNode(chain: Chain): OnnxNode {
  const made = new Set(chain.nodes.flatMap((n) => n.outputs));
  const inputs: string[] = [];
  for (const n of chain.nodes) {
    for (const v of n.inputs) if (v !== "" && !made.has(v) && !inputs.includes(v)) inputs.push(v);
  }
  const last = chain.nodes[chain.nodes.length - 1];
  return {
    name: `${chain.conv.name}+StftMagnitude`,
    opType: "Conv",
    domain: "",
    inputs,
    outputs: last.outputs,
    attrs: chain.conv.attrs,
    implicitInputs: [],
    fusedActivation: "StftMagnitude",
  };
}

const num = (t: Tensor | undefined): number[] | null =>
  t === undefined || t.device !== "cpu" || t.size > 16
    ? null
    : Array.from(t.dataSync() as ArrayLike<number | bigint>, Number);

function attrList(n: OnnxNode, k: string): number[] | undefined {
  const v = n.attrs.get(k);
  return Array.isArray(v) && v.every((x) => typeof x === "number") ? v as number[] : undefined;
}

/**
 * The channel range [start, end) of the conv output [N, C, T] a half's slices keep, or null when
 * they keep anything else (another axis cut, a step, a cast to another type, a power ≠ 2).
 */
function halfRange(
  half: readonly OnnxNode[],
  val: (v: string) => Tensor | undefined,
  dims: number[],
  opsetOf: (n: OnnxNode) => number,
): [number, number] | null {
  const off = [0, 0, 0], len = [...dims];
  for (const n of half) {
    if (n.opType === "Cast") {
      if (n.attrs.get("to") !== 1) return null;
      continue;
    }
    if (n.opType === "Pow") {
      const e = num(val(n.inputs[1]));
      if (e === null || e.length !== 1 || e[0] !== 2) return null;
      continue;
    }
    if (opsetOf(n) < 10) return null;
    const st = num(val(n.inputs[1])), en = num(val(n.inputs[2]));
    const ax = n.inputs[3] ? num(val(n.inputs[3])) : st?.map((_, i) => i) ?? null;
    const sp = n.inputs[4] ? num(val(n.inputs[4])) : st?.map(() => 1) ?? null;
    if (st === null || en === null || ax === null || sp === null) return null;
    if (st.length !== en.length || ax.length !== st.length || sp.length !== st.length) return null;
    for (let i = 0; i < st.length; i++) {
      const a = ax[i] < 0 ? ax[i] + 3 : ax[i];
      if (a < 0 || a > 2 || sp[i] !== 1) return null;
      const d = len[a];
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
      const s = clamp(st[i]), e = clamp(en[i]);
      off[a] += s;
      len[a] = Math.max(0, e - s);
    }
  }
  if (off[0] !== 0 || len[0] !== dims[0] || off[2] !== 0 || len[2] !== dims[2]) return null;
  return [off[1], off[1] + len[1]];
}

/**
 * The fused chain's operator: the fast path when the values say the chain is the STFT magnitude
 * (see the module doc), else the original nodes in order.
 */
export function stftMagnitudeFn(chain: Chain, fused: OnnxNode): OpFn {
  const xi = fused.inputs.indexOf(chain.pad.inputs[0]);
  const wi = fused.inputs.indexOf(chain.conv.inputs[1]);
  // The inputs of the last run that took the fast path: when all but the signal are the same
  // tensors (session constants) and the signal has the same shape, the checks hold again.
  let seen: { inputs: (Tensor | undefined)[]; geo: Geometry } | null = null;
  const same = (inputs: (Tensor | undefined)[]) =>
    seen !== null && inputs.length === seen.inputs.length &&
    inputs.every((t, i) =>
      i === xi
        ? t !== undefined && t.dtype === "f32" && t.device === "cpu" &&
          t.shape.length === 2 && t.shape[0] === seen!.geo.N && t.shape[1] === seen!.geo.L
        : t === seen!.inputs[i]
    );
  return (inputs, ctx) => {
    if (same(inputs)) return [stftCompute(seen!.geo, inputs[xi]!, inputs[wi]!)];
    const vals = new Map<string, Tensor | undefined>();
    fused.inputs.forEach((v, i) => vals.set(v, inputs[i]));
    const geo = stftGeometry(chain, (v) => vals.get(v));
    if (geo !== null) {
      seen = { inputs: [...inputs], geo };
      return [stftCompute(geo, inputs[xi]!, inputs[wi]!)];
    }
    seen = null;
    return tidy(() => {
      chain.nodes.forEach((n, k) => {
        const sub: OpContext = { node: n, opset: chain.opsets[k], runGraph: ctx.runGraph };
        const outs = chain.fns[k](n.inputs.map((v) => (v === "" ? undefined : vals.get(v))), sub);
        n.outputs.forEach((o, i) => vals.set(o, outs[i]));
      });
      return [vals.get(fused.outputs[0])!];
    });
  };
}

/**
 * The chain's output by the fast path, or null when the values (read through `val`) say the
 * chain is not the STFT magnitude or the inputs are not CPU f32.
 */
export function stftMagnitudeFast(
  c: Chain,
  val: (v: string) => Tensor | undefined,
): Tensor | null {
  const geo = stftGeometry(c, val);
  return geo === null ? null : stftCompute(geo, val(c.pad.inputs[0])!, val(c.conv.inputs[1])!);
}

/** What the fast path needs to know: sizes, pads, stride. */
interface Geometry {
  N: number;
  L: number;
  pb: number;
  K: number;
  C: number;
  F: number;
  T: number;
  s: number;
}

/** The chain's geometry when its values make it the STFT magnitude, else null. */
function stftGeometry(c: Chain, val: (v: string) => Tensor | undefined): Geometry | null {
  const opsetOf = (n: OnnxNode) => c.opsets[c.nodes.indexOf(n)];
  const x = val(c.pad.inputs[0]), w = val(c.conv.inputs[1]);
  const f32cpu = (t: Tensor | undefined): t is Tensor =>
    t !== undefined && t.dtype === "f32" && t.device === "cpu";
  if (!f32cpu(x) || !f32cpu(w) || x.ndim !== 2 || w.ndim !== 3 || w.shape[1] !== 1) return null;
  // Pad: reflect, last axis only, each pad shorter than the signal.
  const mode = c.pad.attrs.get("mode");
  if (opsetOf(c.pad) < 11 || mode !== "reflect" || c.pad.inputs[2] || c.pad.inputs[3]) return null;
  const pads = num(val(c.pad.inputs[1]));
  const [N, L] = x.shape;
  if (pads === null || pads.length !== 4 || pads[0] !== 0 || pads[2] !== 0) return null;
  const pb = pads[1], pe = pads[3];
  if (pb < 0 || pe < 0 || pb >= L || pe >= L) return null;
  // Unsqueeze at axis 1.
  const axes = opsetOf(c.unsqueeze) >= 13
    ? num(val(c.unsqueeze.inputs[1]))
    : attrList(c.unsqueeze, "axes") ?? null;
  if (axes === null || axes.length !== 1 || (axes[0] !== 1 && axes[0] !== -2)) return null;
  // Conv: one input channel, no bias, no padding, no dilation, group 1.
  const cv = c.conv;
  if (cv.inputs[2] || (cv.attrs.get("group") ?? 1) !== 1) return null;
  const ap = cv.attrs.get("auto_pad");
  if (ap !== undefined && ap !== "NOTSET") return null;
  const K = w.shape[2], C = w.shape[0];
  const ks = attrList(cv, "kernel_shape"), st = attrList(cv, "strides") ?? [1];
  const dl = attrList(cv, "dilations") ?? [1], cp = attrList(cv, "pads") ?? [0, 0];
  if ((ks && (ks.length !== 1 || ks[0] !== K)) || st.length !== 1 || st[0] < 1) return null;
  if (dl.length !== 1 || dl[0] !== 1 || cp.length !== 2 || cp[0] !== 0 || cp[1] !== 0) return null;
  const s = st[0], Lp = L + pb + pe;
  if (Lp < K || C % 2 !== 0) return null;
  const T = Math.floor((Lp - K) / s) + 1, F = C / 2;
  const r0 = halfRange(c.halves[0], val, [N, C, T], opsetOf);
  const r1 = halfRange(c.halves[1], val, [N, C, T], opsetOf);
  if (r0 === null || r1 === null) return null;
  const halvesOk = (a: number[], b: number[]) =>
    a[0] === 0 && a[1] === F && b[0] === F && b[1] === C;
  if (!halvesOk(r0, r1) && !halvesOk(r1, r0)) return null;
  return { N, L, pb, K, C, F, T, s };
}

/** The magnitude [N, F, T] of signal x [N, L] through basis w [C, 1, K]. */
function stftCompute(g: Geometry, x: Tensor, w: Tensor): Tensor {
  const { N, L, pb, K, C, F, T, s } = g;
  // Frames of the reflected signal as columns [K, N·T], one matmul with the basis [C, K].
  const cols = N * T;
  const [mt, m] = newF32([K, cols]);
  const xs = readF32(x);
  for (let n = 0; n < N; n++) {
    const xo = n * L;
    for (let t = 0; t < T; t++) {
      const col = n * T + t;
      for (let k = 0; k < K; k++) {
        let i = t * s + k - pb;
        if (i < 0) i = -i;
        else if (i >= L) i = 2 * (L - 1) - i;
        m[k * cols + col] = xs[xo + i];
      }
    }
  }
  const pt = matmul(V.reshape(w, [C, K]), mt);
  const [yt, y] = newF32([N, F, T]);
  const p = readF32(pt);
  const fr = Math.fround;
  for (let n = 0; n < N; n++) {
    for (let f = 0; f < F; f++) {
      const re = f * cols + n * T, im = (f + F) * cols + n * T, yo = (n * F + f) * T;
      for (let t = 0; t < T; t++) {
        const a = p[re + t], b = p[im + t];
        y[yo + t] = Math.sqrt(fr(fr(a * a) + fr(b * b)));
      }
    }
  }
  mt.dispose();
  pt.dispose();
  return yt;
}
