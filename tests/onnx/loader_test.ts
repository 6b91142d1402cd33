import "../../backends/runtime.ts";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { FormatError } from "../../core/errors.ts";
import { tensor } from "../../core/ops/creation.ts";
import { loadOnnx, loadOnnxSync, OnnxUnsupportedError } from "../../io/onnx/session.ts";
import { TensorProtoSchema } from "../../io/onnx/onnx_pb.ts";
import type { Tensor } from "../../core/tensor.ts";
import { f32, graph, i64, model, node, validModel, vi } from "./build.ts";

const vals = (t: Tensor) => Array.from(t.dataSync() as Float32Array);

Deno.test("loadOnnx runs Gemm, Relu, a Constant node and an If reading outer-scope values", async () => {
  const s = loadOnnxSync(validModel());
  assert.deepEqual(s.inputNames, ["x"]);
  // y by hand, W = [[1, -1, 0.5], [-2, 1, 0]], b = [0.1, -0.2]:
  // x = [1, 2, 3]: xW^T + b = [0.6, -0.2], relu [0.6, 0], sum > 0: then branch, + 1.
  const a = await s.run({ x: tensor([[1, 2, 3]]) });
  assert.deepEqual(Array.from(a.y.dataSync() as Float32Array, (v) => +v.toFixed(5)), [1.6, 1]);
  // x = [0, 0.1, -1]: [-0.5, -0.1], relu [0, 0], sum 0: else branch, - 1.
  const b = await s.run({ x: tensor([[0, 0.1, -1]]) });
  assert.deepEqual(vals(b.y), [-1, -1]);
});

Deno.test("a session reuses its plan: repeated runs give the same result and free intermediates", async () => {
  const s = loadOnnxSync(validModel());
  const first = (await s.run({ x: tensor([[1, 2, 3]]) })).y.dataSync();
  for (let i = 0; i < 20; i++) {
    const y = (await s.run({ x: tensor([[1, 2, 3]]) })).y;
    assert.deepEqual(y.dataSync(), first);
    y.dispose();
  }
});

Deno.test("missing operators are listed all at once in OnnxUnsupportedError", () => {
  const bytes = model(graph(
    [node("FooOp", ["x"], ["a"]), node("BarOp", ["a"], ["b"]), node("FooOp", ["b"], ["y"])],
    [vi("x", [1])],
    [vi("y", [1])],
  ));
  assert.throws(() => loadOnnxSync(bytes, { name: "m.onnx" }), (e: unknown) => {
    assert.ok(e instanceof OnnxUnsupportedError && e instanceof FormatError);
    assert.deepEqual(e.missing.map((m) => [m.opType, m.count]), [["FooOp", 2], ["BarOp", 1]]);
    assert.match(e.message, /m\.onnx: 2 operator\(s\) not supported here: FooOp \(×2\), BarOp/);
    return true;
  });
});

Deno.test("a cycle, a value produced twice and a dangling name are FormatErrors naming them", () => {
  const cyc = model(graph(
    [node("Relu", ["b"], ["a"]), node("Relu", ["a"], ["b"])],
    [vi("x", [1])],
    [vi("b", [1])],
  ));
  assert.throws(
    () => loadOnnxSync(cyc),
    (e: unknown) => e instanceof FormatError && /cycle: 2 nodes wait/.test(e.message),
  );
  const twice = model(graph(
    [node("Relu", ["x"], ["a"]), node("Abs", ["x"], ["a"])],
    [vi("x", [1])],
    [vi("a", [1])],
  ));
  assert.throws(() => loadOnnxSync(twice), /value "a" in g is produced twice/);
  const dangling = model(graph([node("Relu", ["nowhere"], ["y"])], [vi("x", [1])], [vi("y", [1])]));
  assert.throws(() => loadOnnxSync(dangling), /values read but never produced: "nowhere"/);
});

Deno.test("deep subgraph nesting and node counts stop at the limits", () => {
  const leaf = graph([node("Identity", ["x"], ["y"])], [], [vi("y", [1])]);
  let g = leaf;
  for (let i = 0; i < 12; i++) {
    g = graph(
      [node("If", ["c"], ["y"], { then_branch: g, else_branch: leaf })],
      [],
      [vi("y", [1])],
    );
  }
  const deep = model(graph(g.node, [vi("x", [1]), vi("c", [], 9)], [vi("y", [1])]));
  assert.throws(() => loadOnnxSync(deep, { maxDepth: 8 }), /nest deeper than 8/);
  assert.equal(loadOnnxSync(deep).model.graph.nodes.length, 1);
  // Deeper than protobuf-es's recursion limit (100 messages): a FormatError, not a stack overflow.
  for (let i = 0; i < 40; i++) {
    g = graph([node("If", ["c"], ["y"], { then_branch: g, else_branch: leaf })], [], [
      vi("y", [1]),
    ]);
  }
  const deeper = model(graph(g.node, [vi("x", [1]), vi("c", [], 9)], [vi("y", [1])]));
  assert.throws(() => loadOnnxSync(deeper), /maximum recursion depth/);
  const many = model(graph(
    Array.from({ length: 50 }, (_, i) => node("Relu", [i ? `v${i - 1}` : "x"], [`v${i}`])),
    [vi("x", [1])],
    [vi("v49", [1])],
  ));
  assert.throws(() => loadOnnxSync(many, { maxNodes: 10 }), /more than 10 nodes/);
  assert.equal(loadOnnxSync(many).model.graph.nodes.length, 50);
});

Deno.test("tensor payloads are checked before allocating: dims, raw_data length, field counts", () => {
  const bad = (t: ReturnType<typeof f32>) =>
    model(graph([node("Relu", ["w"], ["y"])], [], [vi("y", [1])], [t]));
  const huge = f32("w", [1], [1]);
  huge.dims = [1n << 40n, 1n << 40n];
  assert.throws(() => loadOnnxSync(bad(huge)), /dimension 1099511627776 .* out of range/);
  const short = f32("w", [4], [1, 2, 3, 4]);
  short.rawData = short.rawData.slice(0, 15);
  assert.throws(
    () => loadOnnxSync(bad(short)),
    /raw_data holds 15 bytes, but dims \(4,\) of f32 need 16/,
  );
  const fewer = i64("w", [3], [1, 2]);
  assert.throws(
    () => loadOnnxSync(bad(fewer)),
    /int64_data holds 2 values, but dims \(3,\) need 3/,
  );
  const str = create(TensorProtoSchema, { name: "w", dims: [1n], dataType: 8 });
  assert.throws(() => loadOnnxSync(bad(str)), /STRING \(8\) is not supported/);
});

Deno.test("external data is read from the model's folder and checked against the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/w.bin`, new Uint8Array(new Float32Array([9, 1, 2, 3, -4]).buffer));
    const ext = (location: string, offset: number, length: number) => {
      const t = f32("w", [4], [0, 0, 0, 0]);
      t.rawData = new Uint8Array(0);
      t.dataLocation = 1;
      t.externalData = [
        { key: "location", value: location },
        { key: "offset", value: String(offset) },
        { key: "length", value: String(length) },
      ].map((kv) => create(TensorProtoSchema, { externalData: [kv] }).externalData[0]);
      return model(graph([node("Abs", ["w"], ["y"])], [], [vi("y", [4])], [t]));
    };
    await Deno.writeFile(`${dir}/m.onnx`, ext("w.bin", 4, 16));
    const s = await loadOnnx(`${dir}/m.onnx`);
    assert.deepEqual(vals((await s.run({})).y), [1, 2, 3, 4]);
    await Deno.writeFile(`${dir}/m.onnx`, ext("w.bin", 8, 16));
    await assert.rejects(loadOnnx(`${dir}/m.onnx`), /\[8, 24\) lies outside "w.bin" \(20 bytes\)/);
    await Deno.writeFile(`${dir}/m.onnx`, ext("../w.bin", 0, 16));
    await assert.rejects(loadOnnx(`${dir}/m.onnx`), /leaves the model's folder/);
    await Deno.writeFile(`${dir}/m.onnx`, ext("w.bin", 0, 12));
    await assert.rejects(loadOnnx(`${dir}/m.onnx`), /length 12 does not match the 16 bytes/);
    assert.throws(() => loadOnnxSync(ext("w.bin", 4, 16)), /loaded from bytes/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Loop carries state and stacks scan outputs; opset picks Softmax's semantics", async () => {
  // Loop 4 times: acc = acc * 2, emitting acc each iteration.
  const body = graph(
    [
      node("Identity", ["cond_in"], ["cond_out"]),
      node("Mul", ["acc_in", "two"], ["acc_out"]),
      node("Identity", ["acc_out"], ["scan"]),
    ],
    [vi("i", [], 7), vi("cond_in", [], 9), vi("acc_in", [1])],
    [vi("cond_out", [], 9), vi("acc_out", [1]), vi("scan", [1])],
  );
  const loop = model(graph(
    [node("Loop", ["n", "", "a0"], ["acc", "all"], { body })],
    [vi("a0", [1])],
    [vi("acc", [1]), vi("all", [4, 1])],
    [i64("n", [], [4]), f32("two", [], [2])],
  ));
  const out = await loadOnnxSync(loop).run({ a0: tensor([1.5]) });
  assert.deepEqual(vals(out.acc), [24]);
  assert.deepEqual(vals(out.all), [3, 6, 12, 24]);
  // Softmax before opset 13 flattens to 2-D at axis 1; from 13 it normalizes along one axis.
  const sm = (opset: number) =>
    model(
      graph([node("Softmax", ["x"], ["y"], { axis: 1 })], [vi("x", [1, 2, 2])], [
        vi("y", [1, 2, 2]),
      ]),
      opset,
    );
  const x = tensor([[[0, 0], [0, 0]]]);
  assert.deepEqual(vals((await loadOnnxSync(sm(11)).run({ x })).y), [
    0.25,
    0.25,
    0.25,
    0.25,
  ]);
  assert.deepEqual(vals((await loadOnnxSync(sm(13)).run({ x })).y), [
    0.5,
    0.5,
    0.5,
    0.5,
  ]);
});

Deno.test("bad feeds are typed errors naming the input, its shape or dtype", async () => {
  const s = loadOnnxSync(validModel());
  await assert.rejects(s.run({}), /input "x" is missing from the feeds/);
  await assert.rejects(s.run({ x: tensor([[1, 2, 3]]), q: tensor([1]) }), /unknown input "q"/);
  await assert.rejects(
    s.run({ x: tensor([[1, 2]]) }),
    /has shape \[1, 2\], but the model declares \[1, 3\]/,
  );
  await assert.rejects(
    s.run({ x: tensor([[1, 2, 3]], { dtype: "f64" }) }),
    /is f64, but the model declares f32/,
  );
  assert.throws(() => loadOnnxSync(new Uint8Array([0x0a, 0xff, 0xff])), /not a valid ONNX model/);
  void toBinary;
});
