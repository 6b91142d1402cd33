/**
 * The fused STFT magnitude chain (io/onnx/fuse_stft.ts) against onnxruntime: the chain as
 * PyTorch exports it (reflect Pad, Unsqueeze, Conv with one input channel, Slices of the real and
 * imaginary halves, Cast, Pow 2, Add, Sqrt) runs as one node; chains whose values mean something
 * else (a split that is not at the half, another exponent, a constant pad) run node by node and
 * still equal onnxruntime.
 */
import "../../backends/runtime.ts";
import assert from "node:assert/strict";
import { fromTyped } from "../../core/ops/creation.ts";
import { memory } from "../../core/memory.ts";
import { loadOnnxSync } from "../../io/onnx/session.ts";
import { parseModel } from "../../io/onnx/graph.ts";
import { OPS } from "../../io/onnx/ops/registry.ts";
import { findStftChains, stftMagnitudeFast } from "../../io/onnx/fuse_stft.ts";
import { rng } from "../helpers/gen.ts";
import { f32, graph, i64, model, node, vi } from "./build.ts";
import { maxAbsDiff, ortRun } from "./ort.ts";

interface Variant {
  /** Where the imaginary part starts (F: the second half); it keeps F channels. */
  imStart?: number;
  /** The exponent of the second Pow. */
  exp?: number;
  /** Pad mode. */
  mode?: string;
  /** Batch. */
  n?: number;
}

function stftModel(F: number, K: number, s: number, pad: number, L: number, v: Variant) {
  const r = rng(11);
  const C = 2 * F, imStart = v.imStart ?? F;
  const n = v.n ?? 1;
  const basis = Array.from({ length: C * K }, () => r() * 2 - 1);
  const big = 2 ** 62;
  const nodes = [
    node("Pad", ["x", "pads"], ["xp"], { mode: v.mode ?? "reflect" }),
    node("Unsqueeze", ["xp", "ax1"], ["xu"]),
    node("Conv", ["xu", "basis"], ["c"], {
      kernel_shape: [K],
      strides: [s],
      pads: [0, 0],
      dilations: [1],
      group: 1,
    }),
    node("Slice", ["c", "zero", "big", "zero", "one"], ["c0"]),
    node("Slice", ["c0", "zero", "half", "one", "one"], ["re0"]),
    node("Slice", ["re0", "zero", "big", "two", "one"], ["re"]),
    node("Cast", ["re"], ["ref"], { to: 1 }),
    node("Slice", ["c0", "imStart", "imEnd", "one", "one"], ["im0"]),
    node("Slice", ["im0", "zero", "big", "two", "one"], ["im"]),
    node("Cast", ["im"], ["imf"], { to: 1 }),
    node("Pow", ["ref", "e2"], ["re2"]),
    node("Pow", ["imf", "e"], ["im2"]),
    node("Add", ["re2", "im2"], ["sum"]),
    node("Sqrt", ["sum"], ["y"]),
  ];
  const inits = [
    f32("basis", [C, 1, K], basis),
    i64("pads", [4], [0, pad, 0, pad]),
    i64("ax1", [1], [1]),
    i64("zero", [1], [0]),
    i64("one", [1], [1]),
    i64("two", [1], [2]),
    i64("big", [1], [big]),
    i64("half", [1], [F]),
    i64("imStart", [1], [imStart]),
    i64("imEnd", [1], [imStart === F ? big : imStart + F]),
    f32("e2", [], [2]),
    f32("e", [], [v.exp ?? 2]),
  ];
  const bytes = model(graph(nodes, [vi("x", [n, L])], [vi("y", [n, "f", "t"])], inits), 18);
  const x = fromTyped(Float32Array.from({ length: n * L }, () => r() * 2 - 1), [n, L], "f32");
  return { bytes, x };
}

async function check(v: Variant, fused: boolean) {
  const { bytes, x } = stftModel(9, 16, 8, 8, 64, v);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/m.onnx`, bytes);
    const ref = await ortRun(`${dir}/m.onnx`, { "0:x": x }, 1);
    const s = loadOnnxSync(bytes);
    s.setProfiling(true);
    const out = s.runSync({ x });
    const d = maxAbsDiff(out.y, ref["0:y"]);
    assert.ok(d <= 1e-5, `${JSON.stringify(v)}: max |ours - onnxruntime| = ${d}`);
    assert.deepEqual(s.profile().map((p) => p.opType), ["Conv+StftMagnitude"], "one node");
    // Nothing left behind by either path (a second run, after the first kept its constants).
    const before = memory().tensors;
    s.runSync({ x }).y.dispose();
    assert.equal(memory().tensors, before, "tensors leaked by a run");
    // Which path the fused node took: the fast path only where the chain is the magnitude.
    const m = parseModel(bytes);
    const chains = findStftChains(m.graph, m.graph.nodes, (n) => OPS.get(n.opType)!, () => 18);
    assert.equal(chains.length, 1);
    const y = stftMagnitudeFast(chains[0], (v) => (v === "x" ? x : m.graph.initializers.get(v)));
    assert.equal(y !== null, fused, `${JSON.stringify(v)}: fast path taken`);
    if (y !== null) assert.ok(maxAbsDiff(y, ref["0:y"]) <= 1e-5);
    y?.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("STFT magnitude chain runs as one node and equals onnxruntime", async () => {
  await check({}, true);
  await check({ n: 3 }, true);
});

Deno.test("chains that are not an STFT magnitude run node by node and equal onnxruntime", async () => {
  await check({ imStart: 7 }, false);
  await check({ exp: 4 }, false);
  await check({ mode: "edge" }, false);
});
