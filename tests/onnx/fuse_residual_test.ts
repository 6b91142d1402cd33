/**
 * Residual-block fusion (io/onnx/fuse_residual.ts) against onnxruntime: Conv → Add → Relu with
 * the skip path as it is or widened by a Concat of zeros (BlazeFace's blocks), the Add's operands
 * in either order, no Relu; and variants that must not take the in-place path (a non-zero
 * constant in the Concat, a Concat along another axis, a broadcast residual, the sum also a graph
 * output), which run the original nodes and still equal onnxruntime. Kernel traces tell which
 * path ran; a second run leaves no tensor behind.
 */
import "../../backends/runtime.ts";
import assert from "node:assert/strict";
import { fromTyped } from "../../core/ops/creation.ts";
import { memory } from "../../core/memory.ts";
import { traceKernels } from "../../core/backend/registry.ts";
import type { Tensor } from "../../core/tensor.ts";
import { loadOnnxSync } from "../../io/onnx/session.ts";
import { rng } from "../helpers/gen.ts";
import { f32, graph, i64, model, node, vi } from "./build.ts";
import { maxAbsDiff, ortRun } from "./ort.ts";

const rand = (r: () => number, n: number) => Array.from({ length: n }, () => r() * 2 - 1);
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

interface Variant {
  what: string;
  /** Channels of the block input and of the conv output. */
  ci: number;
  co: number;
  /** The skip path: "plain" (x itself), "zeros" (Concat(x, zeros) on channels), "ones" (a
   * Concat with a non-zero constant), "rows" (a Concat along H), "bcast" (a [1,co,1,1] tensor). */
  skip: "plain" | "zeros" | "ones" | "rows" | "bcast";
  swap?: boolean;
  relu?: boolean;
  sumOut?: boolean;
  /** Whether the in-place path must run. */
  fast: boolean;
  label: string[];
}

const H = 10, W = 30;

function build(v: Variant, r: () => number): Uint8Array {
  const { ci, co } = v;
  const nodes = [
    node("Relu", ["x"], ["a"]),
    node("Conv", ["a", "Wd"], ["d"], { group: ci, pads: [1, 1, 1, 1] }),
    node("Conv", ["d", "W1", "B1"], ["c"]),
  ];
  const inits = [
    f32("Wd", [ci, 1, 3, 3], rand(r, ci * 9)),
    f32("W1", [co, ci, 1, 1], rand(r, co * ci)),
    f32("B1", [co], rand(r, co)),
  ];
  let skip = "a";
  if (v.skip === "zeros" || v.skip === "ones") {
    inits.push(i64("zs", [4], [1, co - ci, H, W]));
    nodes.push(
      node("ConstantOfShape", ["zs"], ["z"], {
        value: f32("v", [1], [v.skip === "ones" ? 1 : 0]),
      }),
      node("Concat", ["a", "z"], ["p"], { axis: 1 }),
    );
    skip = "p";
  } else if (v.skip === "rows") {
    // The conv widens H: x [1, co, H - 2, W] padded by two rows of zeros along H.
    inits.push(f32("zr", [1, co, 2, W], Array(co * 2 * W).fill(0)));
    nodes.push(node("Concat", ["xr", "zr"], ["p"], { axis: 2 }));
    skip = "p";
  } else if (v.skip === "bcast") {
    inits.push(f32("rb", [1, co, 1, 1], rand(r, co)));
    skip = "rb";
  }
  nodes.push(node("Add", v.swap ? [skip, "c"] : ["c", skip], ["s"]));
  const outs = [vi("y", [1, co, H, W])];
  if (v.relu !== false) nodes.push(node("Relu", ["s"], ["y"]));
  else nodes[nodes.length - 1] = node("Add", v.swap ? [skip, "c"] : ["c", skip], ["y"]);
  if (v.sumOut) outs.push(vi("s", [1, co, H, W]));
  const ins = [vi("x", [1, ci, H, W])];
  if (v.skip === "rows") ins.push(vi("xr", [1, co, H - 2, W]));
  return model(graph(nodes, ins, outs, inits));
}

Deno.test("Conv → Add (of a zero-padded Concat) → Relu runs fused and equals onnxruntime", async () => {
  const r = rng(11);
  const variants: Variant[] = [
    { what: "plain skip", ci: 6, co: 6, skip: "plain", fast: true, label: ["Conv+Add+Relu"] },
    {
      what: "zero-padded skip",
      ci: 5,
      co: 8,
      skip: "zeros",
      fast: true,
      label: ["Conv+Concat+Add+Relu"],
    },
    {
      what: "operands swapped",
      ci: 4,
      co: 7,
      skip: "zeros",
      swap: true,
      fast: true,
      label: ["Conv+Concat+Add+Relu"],
    },
    { what: "no Relu", ci: 3, co: 3, skip: "plain", relu: false, fast: true, label: ["Conv+Add"] },
    {
      what: "the sum is also an output",
      ci: 3,
      co: 3,
      skip: "plain",
      sumOut: true,
      fast: true,
      label: ["Conv+Add", "Relu"],
    },
    {
      what: "ones in the Concat",
      ci: 5,
      co: 8,
      skip: "ones",
      fast: false,
      label: ["Conv+Concat+Add+Relu"],
    },
    {
      what: "Concat along H",
      ci: 4,
      co: 4,
      skip: "rows",
      fast: false,
      label: ["Conv+Concat+Add+Relu"],
    },
    {
      what: "broadcast residual",
      ci: 4,
      co: 4,
      skip: "bcast",
      fast: false,
      label: ["Conv+Add+Relu"],
    },
  ];
  for (const v of variants) {
    const bytes = build(v, r);
    const feeds: Record<string, Tensor> = {
      x: fromTyped(Float32Array.from(rand(r, v.ci * H * W)), [1, v.ci, H, W], "f32"),
    };
    if (v.skip === "rows") {
      const s = [1, v.co, H - 2, W];
      feeds.xr = fromTyped(Float32Array.from(rand(r, prod(s))), s, "f32");
    }
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${dir}/m.onnx`, bytes);
      const ref = await ortRun(
        `${dir}/m.onnx`,
        Object.fromEntries(Object.entries(feeds).map(([k, t]) => [`0:${k}`, t])),
        1,
      );
      const s = loadOnnxSync(bytes);
      s.setProfiling(true);
      const { result: out, trace } = traceKernels(() => s.runSync(feeds));
      for (const name of s.outputNames) {
        const d = maxAbsDiff(out[name], ref[`0:${name}`]);
        assert.ok(d <= 1e-5, `${v.what} ${name}: max |ours - onnxruntime| = ${d}`);
      }
      const ops = s.profile().map((p) => p.opType).filter((o) => o !== "ConstantOfShape");
      // The block input's Relu runs alone where the skip path reads it (else the conv applies it).
      const first = v.skip === "rows" || v.skip === "bcast" ? [] : ["Relu"];
      assert.deepEqual(ops.filter((o) => o.startsWith("Conv+") || o === "Relu"), [
        ...first,
        ...v.label,
      ], v.what);
      // The in-place path runs no concat kernel and writes the sum into the conv output.
      const concat = trace.some((t) => t.op === "concat" || t.op === "copy");
      if (v.skip === "zeros" || v.skip === "ones") assert.equal(!concat, v.fast, v.what);
      // With a Relu, the in-place path adds and clamps in one WASM job: no add kernel, and relu
      // kernels only for the lone Relu nodes.
      if (v.fast && v.relu !== false && !v.sumOut) {
        assert.ok(!trace.some((t) => t.op === "add"), `${v.what}: one pass`);
        assert.equal(trace.filter((t) => t.op === "relu").length, first.length, v.what);
      }
      for (const t of Object.values(out)) t.dispose();
      const before = memory().tensors;
      for (const t of Object.values(s.runSync(feeds))) t.dispose();
      assert.equal(memory().tensors, before, `${v.what}: tensors leaked by a run`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});
