import "../../backends/runtime.ts";
import assert from "node:assert/strict";
import { memory } from "../../core/memory.ts";
import { fromTyped } from "../../core/ops/creation.ts";
import { loadOnnxSync } from "../../io/onnx/session.ts";
import { profileTable } from "../../io/onnx/profile.ts";
import { f32, graph, i64, model, node, vi } from "./build.ts";

const iota = (n: number) => Float32Array.from({ length: n }, (_, i) => i + 1);

/** y = Reshape(x, [x.shape[1], -1]); also outputs the target shape (shape arithmetic). */
function shapeModel(): Uint8Array {
  return model(graph(
    [
      node("Shape", ["x"], ["s"]),
      node("Gather", ["s", "one"], ["d1"], { axis: 0 }),
      node("Concat", ["d1", "minus1"], ["shp"], { axis: 0 }),
      node("Reshape", ["x", "shp"], ["y"]),
    ],
    [vi("x", ["n", "m"])],
    [vi("y", ["a", "b"]), vi("shp", [2], 7)],
    [i64("one", [1], [1]), i64("minus1", [1], [-1])],
  ));
}

Deno.test("shape arithmetic is memoized by input shape and follows a changing shape", () => {
  const s = loadOnnxSync(shapeModel());
  const before = memory().tensors;
  for (const [n, m] of [[2, 3], [3, 4], [2, 3], [5, 1], [2, 3]]) {
    const x = fromTyped(iota(n * m), [n, m], "f32");
    const out = s.runSync({ x });
    x.dispose();
    assert.deepEqual(out.y.shape, [m, n]);
    assert.deepEqual(Array.from(out.y.dataSync() as Float32Array), Array.from(iota(n * m)));
    assert.deepEqual(Array.from(out.shp.dataSync() as BigInt64Array, Number), [m, -1]);
    // The caller owns its outputs: disposing them must not break the next run.
    out.y.dispose();
    out.shp.dispose();
  }
  // Only the memo's kept values (3 distinct shapes × 3 nodes) outlive the runs.
  assert.equal(memory().tensors - before, 9);
});

Deno.test("subgraph nodes reading only enclosing constants are folded once, results unchanged", () => {
  // y = If(c, then: x + W[0:2] (Slice of an outer initializer), else: x - W[2:4]).
  const thenG = graph(
    [node("Slice", ["W", "s0", "s2"], ["w02"]), node("Add", ["x", "w02"], ["t"])],
    [],
    [vi("t", [2])],
    [i64("s0", [1], [0]), i64("s2", [1], [2])],
    "then",
  );
  const elseG = graph(
    [node("Slice", ["W", "s2b", "s4"], ["w24"]), node("Sub", ["x", "w24"], ["e"])],
    [],
    [vi("e", [2])],
    [i64("s2b", [1], [2]), i64("s4", [1], [4])],
    "else",
  );
  const s = loadOnnxSync(model(graph(
    [node("If", ["c"], ["y"], { then_branch: thenG, else_branch: elseG })],
    [vi("x", [2]), vi("c", [], 9)],
    [vi("y", [2])],
    [f32("W", [4], [10, 20, 30, 40])],
  )));
  s.setProfiling(true);
  const x = fromTyped(new Float32Array([1, 2]), [2], "f32");
  for (let i = 0; i < 3; i++) {
    for (const [c, want] of [[1, [11, 22]], [0, [-29, -38]]] as const) {
      const y = s.runSync({ x, c: fromTyped(new Uint8Array([c]), [], "bool") }).y;
      assert.deepEqual(Array.from(y.dataSync() as Float32Array), want);
      y.dispose();
    }
  }
  // The profile has the If (depth 0) and each branch's Add/Sub (depth 1), never the Slices.
  const p = s.profile();
  assert.deepEqual([...new Set(p.map((r) => `${r.depth} ${r.opType}`))].sort(), [
    "0 If",
    "1 Add",
    "1 Sub",
  ]);
  assert.ok(p.every((r) => r.us >= 0 && Number.isFinite(r.us)));
  assert.deepEqual(p.find((r) => r.opType === "Add")!.shapes, [[2], [2]]);
  const table = profileTable(p, 6);
  assert.match(table, /^\| If \| \[\] \| 1 \| /m);
  assert.match(table, /^\| Add \| \[2\] \[2\] \| 0\.5 \| /m);
  s.setProfiling(false);
  assert.equal(s.profile().length, 0);
});

Deno.test("nodes computed from a small integer feed are memoized by its value and follow it", () => {
  // y = If(sr == 16000 and not (sr == 8000), then: x * 2, else: x * 3)
  const thenG = graph([node("Mul", ["x", "two"], ["t"])], [], [vi("t", [2])], [], "then");
  const elseG = graph([node("Mul", ["x", "three"], ["e"])], [], [vi("e", [2])], [], "else");
  const s = loadOnnxSync(model(graph(
    [
      node("Equal", ["sr", "k16"], ["is16"]),
      node("Equal", ["sr", "k8"], ["is8"]),
      node("Not", ["is8"], ["not8"]),
      node("And", ["is16", "not8"], ["c"]),
      node("If", ["c"], ["y"], { then_branch: thenG, else_branch: elseG }),
    ],
    [vi("x", [2]), vi("sr", [], 7)],
    [vi("y", [2])],
    [i64("k16", [], [16000]), i64("k8", [], [8000]), f32("two", [], [2]), f32("three", [], [3])],
  )));
  const x = fromTyped(new Float32Array([1, -2]), [2], "f32");
  for (
    const [sr, want] of [[16000, [2, -4]], [8000, [3, -6]], [16000, [2, -4]], [44100, [3, -6]]]
  ) {
    const y =
      s.runSync({ x, sr: fromTyped(new BigInt64Array([BigInt(sr as number)]), [], "i64") }).y;
    assert.deepEqual(Array.from(y.dataSync() as Float32Array), want, `sr ${sr}`);
    y.dispose();
  }
});
