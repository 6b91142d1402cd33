/**
 * The CPU f32 fast paths of the ONNX operators (small 1-D Conv, LSTM with the default
 * activations) against onnxruntime on small random cases: strides, dilations, asymmetric and
 * auto pads, batches, bias or none; LSTM directions, initial state and sequence length
 * (onnxruntime rejects layout 1: the conformance case test_lstm_batchwise covers it); Conv+Relu
 * fusion; and 3-D ConvTranspose (composed from 2-D convolutions) beyond the one conformance case.
 */
import "../../backends/runtime.ts";
import assert from "node:assert/strict";
import { fromTyped } from "../../core/ops/creation.ts";
import type { Tensor } from "../../core/tensor.ts";
import { loadOnnxSync } from "../../io/onnx/session.ts";
import { rng } from "../helpers/gen.ts";
import { f32, graph, i64, model, node, vi } from "./build.ts";
import { maxAbsDiff, ortRun } from "./ort.ts";

const rand = (r: () => number, n: number) => Array.from({ length: n }, () => r() * 2 - 1);

async function vsOrt(bytes: Uint8Array, feeds: Record<string, Tensor>, tol: number, what: string) {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/m.onnx`, bytes);
    const ref = await ortRun(
      `${dir}/m.onnx`,
      Object.fromEntries(Object.entries(feeds).map(([k, v]) => [`0:${k}`, v])),
      1,
    );
    const s = loadOnnxSync(bytes);
    const out = s.runSync(feeds);
    for (const name of s.outputNames) {
      const d = maxAbsDiff(out[name], ref[`0:${name}`]);
      assert.ok(d <= tol, `${what} ${name}: max |ours - onnxruntime| = ${d}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("small 1-D Conv equals onnxruntime: strides, dilations, asymmetric and auto pads, batch", async () => {
  const r = rng(7);
  const cases: {
    n: number;
    ci: number;
    co: number;
    l: number;
    k: number;
    attrs: object;
    b: boolean;
  }[] = [
    {
      n: 1,
      ci: 5,
      co: 4,
      l: 11,
      k: 3,
      attrs: { strides: [2], dilations: [2], pads: [1, 2] },
      b: true,
    },
    { n: 2, ci: 3, co: 6, l: 9, k: 1, attrs: {}, b: false },
    { n: 1, ci: 1, co: 7, l: 40, k: 16, attrs: { strides: [8] }, b: false },
    { n: 3, ci: 4, co: 2, l: 7, k: 3, attrs: { auto_pad: "SAME_UPPER", strides: [2] }, b: true },
    { n: 1, ci: 8, co: 3, l: 5, k: 5, attrs: { auto_pad: "SAME_LOWER" }, b: true },
    // Above 4096 multiply-adds: the column matrix and one matmul (the cases above: direct loops).
    { n: 2, ci: 16, co: 32, l: 20, k: 3, attrs: { strides: [2], pads: [1, 0] }, b: true },
    { n: 1, ci: 24, co: 24, l: 9, k: 3, attrs: { dilations: [2], pads: [2, 2] }, b: false },
  ];
  for (const c of cases) {
    const inits = [f32("W", [c.co, c.ci, c.k], rand(r, c.co * c.ci * c.k))];
    if (c.b) inits.push(f32("B", [c.co], rand(r, c.co)));
    const bytes = model(graph(
      [node(
        "Conv",
        c.b ? ["x", "W", "B"] : ["x", "W"],
        ["y"],
        c.attrs as Record<string, number[]>,
      )],
      [vi("x", [c.n, c.ci, c.l])],
      [vi("y", [c.n, c.co, "t"])],
      inits,
    ));
    const x = fromTyped(Float32Array.from(rand(r, c.n * c.ci * c.l)), [c.n, c.ci, c.l], "f32");
    await vsOrt(bytes, { x }, 1e-5, `Conv ${JSON.stringify(c)}`);
  }
});

Deno.test("LSTM (default activations) equals onnxruntime: directions, layouts, state, bias", async () => {
  const r = rng(11);
  const I = 5, H = 4;
  for (
    const [dir, layout, seq, batch, withState] of [
      ["forward", 0, 1, 1, true],
      ["reverse", 0, 4, 2, false],
      ["bidirectional", 0, 3, 2, true],
    ] as const
  ) {
    const D = dir === "bidirectional" ? 2 : 1;
    const inits = [
      f32("W", [D, 4 * H, I], rand(r, D * 4 * H * I)),
      f32("R", [D, 4 * H, H], rand(r, D * 4 * H * H)),
      f32("B", [D, 8 * H], rand(r, D * 8 * H)),
    ];
    const xs = layout === 0 ? [seq, batch, I] : [batch, seq, I];
    const hs = layout === 0 ? [D, batch, H] : [batch, D, H];
    const ins = ["x", "W", "R", "B", "", withState ? "h0" : "", withState ? "c0" : ""];
    const bytes = model(graph(
      [node("LSTM", ins, ["y", "yh", "yc"], { hidden_size: H, direction: dir, layout })],
      withState ? [vi("x", xs), vi("h0", hs), vi("c0", hs)] : [vi("x", xs)],
      [vi("y", ["a", "b", "c", "d"]), vi("yh", ["a", "b", "c"]), vi("yc", ["a", "b", "c"])],
      inits,
    ));
    const t = (shape: number[]) =>
      fromTyped(Float32Array.from(rand(r, shape.reduce((a, b) => a * b, 1))), shape, "f32");
    const feeds: Record<string, Tensor> = { x: t(xs) };
    if (withState) Object.assign(feeds, { h0: t(hs), c0: t(hs) });
    await vsOrt(bytes, feeds, 1e-6, `LSTM ${dir} layout ${layout} seq ${seq}`);
  }
});

Deno.test("Conv followed by its only reader Relu or Sigmoid runs fused and equals onnxruntime", async () => {
  const r = rng(5);
  const t = (shape: number[]) =>
    fromTyped(Float32Array.from(rand(r, shape.reduce((a, b) => a * b, 1))), shape, "f32");
  // 1-D (the small-conv path: direct loops, then column matrix + matmul) and 2-D (core conv2d then relu); in the third the conv output is
  // also a graph output, so nothing is fused.
  for (
    const [xs, ws, alsoOut, act] of [
      [[1, 4, 9], [5, 4, 3], false, "Relu"],
      [[1, 24, 20], [32, 24, 3], false, "Relu"],
      [[1, 3, 6, 6], [4, 3, 3, 3], false, "Relu"],
      [[1, 4, 9], [5, 4, 3], true, "Relu"],
      [[1, 4, 9], [5, 4, 3], false, "Sigmoid"],
      [[1, 24, 20], [32, 24, 3], false, "Sigmoid"],
      [[1, 3, 6, 6], [4, 3, 3, 3], false, "Sigmoid"],
    ] as const
  ) {
    const bytes = model(graph(
      [
        node("Conv", ["x", "W", "B"], ["c"], { pads: ws.length === 3 ? [1, 1] : [1, 1, 1, 1] }),
        node(act, ["c"], ["y"]),
      ],
      [vi("x", [...xs])],
      alsoOut ? [vi("y", [...xs]), vi("c", [...xs])] : [vi("y", [...xs])],
      [
        f32("W", [...ws], rand(r, ws.reduce((a, b) => a * b, 1))),
        f32("B", [ws[0]], rand(r, ws[0])),
      ],
    ));
    const x = t([...xs]);
    await vsOrt(bytes, { x }, 1e-5, `Conv+${act} ${xs.length - 2}-D`);
    const s = loadOnnxSync(bytes);
    s.setProfiling(true);
    s.runSync({ x });
    const ops = s.profile().map((p) => p.opType).sort();
    assert.deepEqual(ops, alsoOut ? ["Conv", act] : [`Conv+${act}`]);
  }
});

Deno.test("3-D ConvTranspose equals onnxruntime: strides, pads, output padding, groups, dilations", async () => {
  const r = rng(3);
  const cases: { x: number[]; w: number[]; attrs: Record<string, number | number[]> }[] = [
    {
      x: [1, 2, 3, 4, 3],
      w: [2, 3, 2, 3, 2],
      attrs: { strides: [2, 1, 2], pads: [1, 0, 0, 0, 1, 1] },
    },
    {
      x: [2, 4, 2, 3, 3],
      w: [4, 1, 3, 2, 2],
      attrs: { group: 2, output_padding: [1, 0, 1], strides: [2, 2, 2] },
    },
    { x: [1, 1, 3, 3, 4], w: [1, 2, 2, 2, 2], attrs: { dilations: [2, 1, 2] } },
  ];
  for (const c of cases) {
    const n = (s: number[]) => s.reduce((a, b) => a * b, 1);
    const bytes = model(graph(
      [node("ConvTranspose", ["x", "W", "B"], ["y"], c.attrs)],
      [vi("x", c.x)],
      [vi("y", ["a", "b", "c", "d", "e"])],
      [
        f32("W", c.w, rand(r, n(c.w))),
        f32(
          "B",
          [c.w[1] * ((c.attrs.group as number | undefined) ?? 1)],
          rand(r, c.w[1] * ((c.attrs.group as number | undefined) ?? 1)),
        ),
      ],
    ));
    const x = fromTyped(Float32Array.from(rand(r, n(c.x))), c.x, "f32");
    await vsOrt(bytes, { x }, 1e-5, `ConvTranspose 3-D ${JSON.stringify(c.attrs)}`);
  }
});

Deno.test("Relu read only by a Conv runs inside it and equals onnxruntime (1-D direct, matmul, 2-D)", async () => {
  const r = rng(21);
  const t = (shape: number[]) =>
    fromTyped(Float32Array.from(rand(r, shape.reduce((a, b) => a * b, 1))), shape, "f32");
  for (
    const [xs, ws] of [
      [[1, 4, 9], [5, 4, 3]],
      [[1, 24, 20], [32, 24, 3]],
      [[1, 3, 6, 6], [4, 3, 3, 3]],
    ] as const
  ) {
    const bytes = model(graph(
      [
        node("Relu", ["x"], ["xr"]),
        node("Conv", ["xr", "W", "B"], ["y"], { pads: ws.length === 3 ? [1, 1] : [1, 1, 1, 1] }),
      ],
      [vi("x", [...xs])],
      [vi("y", [...xs])],
      [
        f32("W", [...ws], rand(r, ws.reduce((a, b) => a * b, 1))),
        f32("B", [ws[0]], rand(r, ws[0])),
      ],
    ));
    const x = t([...xs]);
    await vsOrt(bytes, { x }, 1e-5, `Relu+Conv ${xs.length - 2}-D`);
    const s = loadOnnxSync(bytes);
    s.setProfiling(true);
    s.runSync({ x });
    assert.deepEqual(s.profile().map((p) => p.opType), ["Relu+Conv"]);
  }
});

Deno.test("ReduceMean of small tensors (JS) equals onnxruntime: axes, keepdims, all axes", async () => {
  const r = rng(23);
  for (
    const [shape, axes, keep] of [
      [[1, 1], [1], 0],
      [[2, 3, 4], [0, 2], 1],
      [[2, 3, 4], [-1], 0],
      [[3, 5], null, 1],
      [[40, 40], [1], 0], // above the JS size: core's mean
    ] as const
  ) {
    const inits = axes === null ? [] : [i64("axes", [axes.length], [...axes])];
    const bytes = model(graph(
      [node("ReduceMean", axes === null ? ["x"] : ["x", "axes"], ["y"], { keepdims: keep })],
      [vi("x", [...shape])],
      [vi("y", [])],
      inits,
    ));
    const size = (shape as readonly number[]).reduce((a, b) => a * b, 1);
    const x = fromTyped(Float32Array.from(rand(r, size)), [...shape], "f32");
    await vsOrt(bytes, { x }, 1e-6, `ReduceMean ${JSON.stringify([shape, axes, keep])}`);
  }
});
