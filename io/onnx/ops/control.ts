/**
 * ONNX control flow: `If`, `Loop` and `Scan`, whose bodies are subgraphs that read values of the
 * enclosing scopes.
 *
 * @module
 */
import { FormatError } from "../../../core/errors.ts";
import { fromTyped } from "../../../core/ops/creation.ts";
import { stack } from "../../../core/ops/join.ts";
import * as V from "../../../core/ops/view.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { ShapeError } from "../../../core/errors.ts";
import { attrGraph, attrNum, attrNums, defineOps, floats, ints } from "./registry.ts";

/** Most iterations a Loop without a trip count may run before it is treated as a hang. */
const MAX_LOOP_ITERATIONS = 10_000_000;

function truthy(t: Tensor): boolean {
  return floats(t)[0] !== 0;
}

defineOps({
  Scan: (inp, ctx) => {
    if (ctx.opset < 9) {
      throw new ShapeError(`Scan "${ctx.node.name}": opset 8 Scan is not supported.`);
    }
    const body = attrGraph(ctx, "body");
    const m = attrNum(ctx, "num_scan_inputs", 0);
    const n = inp.length - m;
    let states = inp.slice(0, n) as Tensor[];
    const xs = inp.slice(n) as Tensor[];
    const inAxes = attrNums(ctx, "scan_input_axes", xs.map(() => 0)).map((a, i) =>
      a < 0 ? a + xs[i].ndim : a
    );
    const inDirs = attrNums(ctx, "scan_input_directions", xs.map(() => 0));
    const k = body.outputs.length - n;
    const outAxes = attrNums(ctx, "scan_output_axes", Array(k).fill(0));
    const outDirs = attrNums(ctx, "scan_output_directions", Array(k).fill(0));
    const len = xs.length > 0 ? xs[0].shape[inAxes[0]] : 0;
    const owned = new Set<Tensor>();
    const outs: Tensor[][] = Array.from({ length: k }, () => []);
    for (let t = 0; t < len; t++) {
      const slices = xs.map((x, i) => V.select(x, inAxes[i], inDirs[i] ? len - 1 - t : t));
      const r = ctx.runGraph(body, [...states, ...slices]);
      for (const s0 of states) if (owned.has(s0)) s0.dispose();
      states = r.slice(0, n);
      for (const s0 of states) owned.add(s0);
      r.slice(n).forEach((y, j) => outs[j].push(y));
    }
    const scanOut = outs.map((parts, j) => {
      const ordered = outDirs[j] ? [...parts].reverse() : parts;
      const r = stack(ordered, 0);
      const ax = outAxes[j] < 0 ? outAxes[j] + r.ndim : outAxes[j];
      if (ax === 0) return r;
      const perm = r.shape.map((_, i) => i);
      perm.splice(0, 1);
      perm.splice(ax, 0, 0);
      return V.contiguous(V.permute(r, perm));
    });
    return [...states.map((t) => (owned.has(t) ? t : V.clone(t))), ...scanOut];
  },
  If: (inp, ctx) => {
    const c = inp[0];
    if (c === undefined) throw new FormatError(`If "${ctx.node.name}": missing condition.`);
    const g = attrGraph(ctx, truthy(c) ? "then_branch" : "else_branch");
    return ctx.runGraph(g, []);
  },
  Loop: (inp, ctx) => {
    const body = attrGraph(ctx, "body");
    const maxTrip = inp[0] === undefined ? Infinity : ints(inp[0])[0];
    let cond = inp[1] === undefined ? true : truthy(inp[1]);
    const nCarried = inp.length - 2;
    let carried = inp.slice(2) as Tensor[];
    const scans: Tensor[][] = [];
    const owned = new Set<Tensor>();
    let i = 0;
    for (; i < maxTrip && cond; i++) {
      if (i >= MAX_LOOP_ITERATIONS) {
        throw new FormatError(
          `Loop "${ctx.node.name}": more than ${MAX_LOOP_ITERATIONS} iterations without a trip ` +
            `count. Hint: the loop condition never turns false.`,
        );
      }
      const iter = fromTyped(new BigInt64Array([BigInt(i)]), [], "i64");
      const condIn = fromTyped(new Uint8Array([1]), [], "bool");
      const outs = ctx.runGraph(body, [iter, condIn, ...carried]);
      iter.dispose();
      condIn.dispose();
      cond = truthy(outs[0]);
      outs[0].dispose();
      for (const t of carried) if (owned.has(t)) t.dispose();
      carried = outs.slice(1, 1 + nCarried);
      for (const t of carried) owned.add(t);
      outs.slice(1 + nCarried).forEach((t, k) => (scans[k] ??= []).push(t));
    }
    const nScan = body.outputs.length - 1 - nCarried;
    const scanOut = Array.from({ length: nScan }, (_, k) => {
      const parts = scans[k] ?? [];
      if (parts.length === 0) {
        return fromTyped(new Float32Array(0), [0], "f32");
      }
      const r = stack(parts, 0);
      for (const p of parts) p.dispose();
      return r;
    });
    return [...carried.map((t) => (owned.has(t) ? t : V.clone(t))), ...scanOut];
  },
});
