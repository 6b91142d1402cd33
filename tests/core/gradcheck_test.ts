/**
 * gradcheck (f64 finite differences) on every structural backward rule, gradcheck's own failure
 * report, and checkpoint (same gradients, activations recomputed in backward).
 */
import assert from "node:assert/strict";
import {
  avgPool2d,
  checkpoint,
  chunk,
  ComputeError,
  concat,
  conv1d,
  conv2d,
  dot,
  einsum,
  gather,
  gradcheck,
  indexSelect,
  maskedSelect,
  maxPool2d,
  memory,
  noGrad,
  outer,
  pad,
  repeat,
  roll,
  scatter,
  scatterAdd,
  split,
  stack,
  take,
  type Tensor,
  tensor,
  tidy,
  tile,
  traceKernels,
  where,
} from "../../mod.ts";
import { makeTensor } from "../helpers/gen.ts";

const f64 = (shape: number[], seed: number, layout: "contiguous" | "transposed" = "contiguous") =>
  makeTensor(shape, "f64", seed, layout);
const i32 = (data: number[], shape: number[]) => tensor(data, { dtype: "i32", shape });

Deno.test("gradcheck passes in f64 for every structural rule", async (t) => {
  const cases: [string, Tensor[], (...x: Tensor[]) => Tensor][] = [
    ["take", [f64([3, 4], 1), i32([2, -1, 0, 2], [2, 2])], (x, i) => take(x, i, 1)],
    ["indexSelect", [f64([3, 2], 2), i32([2, 0, 2], [3])], (x, i) => indexSelect(x, 0, i)],
    ["gather", [f64([3, 3], 3), i32([0, 2, 2, 1, 0, 0], [2, 3])], (x, i) => gather(x, 0, i)],
    [
      "scatter",
      [f64([3, 3], 4), i32([2, 0, 1, 0], [2, 2]), f64([2, 2], 5)],
      (x, i, s) => scatter(x, 1, i, s),
    ],
    [
      "scatterAdd",
      [f64([3, 2], 6), i32([1, 1, 0, 1], [2, 2]), f64([2, 2], 7)],
      (x, i, s) => scatterAdd(x, 0, i, s),
    ],
    [
      "where",
      [tensor([true, false, true]), f64([2, 3], 8), f64([3], 9)],
      (c, a, b) => where(c, a, b),
    ],
    [
      "maskedSelect",
      [f64([2, 3], 10), tensor([[true], [false]])],
      (x, m) => maskedSelect(x, m),
    ],
    ["concat", [f64([2, 2], 11), f64([1, 2], 12)], (a, b) => concat([a, b])],
    ["stack", [f64([3], 13), f64([3], 14)], (a, b) => stack([a, b], 1)],
    ["pad constant", [f64([2, 3], 15)], (x) => pad(x, [[1, 0], [2, 1]], { value: 2 })],
    ["pad reflect", [f64([3, 2], 16)], (x) => pad(x, [[2, 1], [1, 1]], { mode: "reflect" })],
    ["pad wrap", [f64([3], 17)], (x) => pad(x, [4, 2], { mode: "wrap" })],
    ["tile", [f64([2, 2], 18)], (x) => tile(x, [2, 1, 2])],
    ["repeat", [f64([2, 3], 19)], (x) => repeat(x, 2, 1)],
    ["repeat counts", [f64([3], 20)], (x) => repeat(x, [2, 0, 1])],
    ["roll", [f64([3, 2], 21, "transposed")], (x) => roll(x, [1, -1], [0, 1])],
    ["split", [f64([5], 22)], (x) => split(x, [2])[1].mul(split(x, [2])[0].sum())],
    ["chunk", [f64([2, 3], 23)], (x) => chunk(x, 2, 1)[1]],
    ["einsum matmul", [f64([2, 3], 24), f64([3, 2], 25)], (a, b) => einsum("ij,jk->ik", a, b)],
    ["einsum diagonal", [f64([3, 3, 2], 26), f64([2], 27)], (a, b) => einsum("iij,j->i", a, b)],
    [
      "einsum broadcast",
      [f64([2, 1, 3], 28), f64([2, 3, 2], 29)],
      (a, b) => einsum("...ij,...jk->...ik", a, b),
    ],
    ["dot", [f64([2, 3], 30), f64([2, 3, 2], 31)], (a, b) => dot(a, b)],
    ["outer", [f64([2], 32), f64([3], 33)], (a, b) => outer(a, b)],
    [
      "conv2d",
      [f64([1, 2, 5, 4], 34), f64([4, 1, 2, 3], 35), f64([4], 36)],
      (x, w, b) => conv2d(x, w, { bias: b, stride: [2, 1], padding: [1, 2], groups: 2 }),
    ],
    [
      "conv2d same dilated",
      [f64([1, 1, 4, 4], 37), f64([2, 1, 2, 2], 38)],
      (x, w) => conv2d(x, w, { padding: "same", dilation: [1, 2] }),
    ],
    [
      "conv1d",
      [f64([2, 2, 6], 39), f64([2, 2, 3], 40)],
      (x, w) => conv1d(x, w, { stride: 2, padding: 1 }),
    ],
    [
      "maxPool2d",
      [f64([1, 1, 5, 5], 41)],
      (x) => maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }),
    ],
    [
      "avgPool2d",
      [f64([1, 1, 5, 4], 42)],
      (x) =>
        avgPool2d(x, {
          kernelSize: [2, 3],
          stride: 2,
          padding: 1,
          ceilMode: true,
          countIncludePad: false,
        }),
    ],
  ];
  for (const [name, inputs, fn] of cases) {
    await t.step(name, () => {
      assert.equal(gradcheck(fn, inputs), true);
      for (const x of inputs) x.dispose();
    });
  }
});

Deno.test("gradcheck reports a wrong gradient with the input and element", () => {
  const x = f64([3], 50);
  const y = f64([2], 51);
  // exp(x) taken out of the graph: its gradient is missing from the analytic result
  const wrong = (a: Tensor, b: Tensor) => outer(a.mul(noGrad(() => a.exp())), b);
  assert.throws(
    () => gradcheck(wrong, [x, y]),
    (e: Error) =>
      e instanceof ComputeError && /input 0/.test(e.message) && /element/.test(e.message),
  );
  assert.equal(gradcheck((a, b) => outer(a.mul(a.exp()), b), [x, y]), true);
  assert.throws(() => gradcheck((a) => a, [tensor([1, 2], { dtype: "i32" })]), /float/);
  x.dispose();
  y.dispose();
});

Deno.test("checkpoint gives the same gradients and recomputes the activations", () => {
  const x = makeTensor([4, 3], "f32", 60).requireGrad();
  const w = makeTensor([3, 5], "f32", 61).requireGrad();
  const v = makeTensor([5, 2], "f32", 62).requireGrad();
  // w is captured by the closure (a parameter); x and v are inputs
  const block = (a: Tensor, b: Tensor) => a.matmul(w).exp().matmul(b).square();
  const grads = (useCheckpoint: boolean) =>
    tidy(() => {
      const y = useCheckpoint ? checkpoint(block, x, v) : block(x, v);
      const { trace } = traceKernels(() => y.sum().backward());
      const gs = [x, w, v].map((p) => {
        const g = p.grad!.toArraySync();
        p.grad!.dispose();
        p.grad = null;
        return g;
      });
      return { gs, exps: trace.filter((r) => r.op === "exp").length };
    });
  const before = memory().tensors;
  const plain = grads(false), ckpt = grads(true);
  assert.deepEqual(ckpt.gs, plain.gs);
  assert.equal(plain.exps, 0, "plain backward reuses the saved exp output");
  assert.equal(ckpt.exps, 1, "checkpointed backward recomputes exp once");
  assert.equal(memory().tensors, before, "nothing leaks");
  // Under noGrad inputs, checkpoint just runs fn.
  const out = noGrad(() => checkpoint(block, x, v));
  assert.equal(out.requiresGrad, false);
  out.dispose();
  for (const p of [x, w, v]) p.dispose();
});
