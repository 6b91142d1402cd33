/**
 * The autograd engine: graph semantics (accumulation, retainGrad, detach, noGrad, retainGraph,
 * errors) and gradients through views and basic ops, against PyTorch.
 */
import assert from "node:assert/strict";
import {
  copyInto,
  DTypeError,
  memory,
  noGrad,
  ShapeError,
  type Tensor,
  tensor,
  tidy,
} from "../../mod.ts";
import { assertMatches, needsTorch, numpy } from "../helpers/numpy.ts";
import { makeTensor } from "../helpers/gen.ts";

Deno.test("autograd graph semantics", async (t) => {
  await t.step("gradients accumulate across backward calls until cleared", () => {
    const w = tensor([1, 2, 3]).requireGrad();
    w.mul(2).sum().backward();
    w.mul(3).sum().backward();
    assert.deepEqual(w.grad!.toArraySync(), [5, 5, 5]);
    w.grad!.dispose();
    w.grad = null;
    w.square().sum().backward();
    assert.deepEqual(w.grad!.toArraySync(), [2, 4, 6]);
    w.dispose();
  });

  await t.step("a tensor used twice receives the sum of both paths", () => {
    const x = tensor([2]).requireGrad();
    x.mul(x).add(x).sum().backward(); // d(x² + x)/dx = 2x + 1
    assert.deepEqual(x.grad!.toArraySync(), [5]);
    x.dispose();
  });

  await t.step("non-leaf gradients are kept only with retainGrad()", () => {
    const x = tensor([1, 2]).requireGrad();
    const y = x.mul(3).retainGrad();
    const z = x.mul(4);
    y.add(z).sum().backward();
    assert.deepEqual(y.grad!.toArraySync(), [1, 1]);
    assert.equal(z.grad, null);
    assert.deepEqual(x.grad!.toArraySync(), [7, 7]);
    for (const a of [x, y, z]) a.dispose();
  });

  await t.step("detach() and noGrad() stop the graph", () => {
    const x = tensor([1, 2]).requireGrad();
    const d = x.detach();
    assert.equal(d.requiresGrad, false);
    assert.equal(noGrad(() => x.mul(2)).requiresGrad, false);
    x.mul(d).sum().backward(); // d is a constant: dL/dx = d
    assert.deepEqual(x.grad!.toArraySync(), [1, 2]);
    x.dispose();
    d.dispose();
  });

  await t.step("integer results (comparisons, argmax) carry no gradient", () => {
    const x = tensor([1, 5, 2]).requireGrad();
    assert.equal(x.gt(2).requiresGrad, false);
    assert.equal(x.argmax().requiresGrad, false);
    x.dispose();
  });

  await t.step("backward twice needs retainGraph", () => {
    const x = tensor([1, 2]).requireGrad();
    const y = x.exp().sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    assert.throws(
      () => y.backward(),
      (e: Error) => e instanceof ShapeError && /retainGraph/.test(e.message),
    );
    x.dispose();
  });

  await t.step("bad use gives typed errors with hints", () => {
    const x = tensor([1, 2]).requireGrad();
    assert.throws(
      () => x.mul(2).backward(),
      (e: Error) => e instanceof ShapeError && /not a scalar/.test(e.message),
    );
    assert.throws(() => x.mul(2).backward([1, 2, 3]), ShapeError);
    assert.throws(
      () => tensor([1]).sum().backward(),
      (e: Error) => e instanceof DTypeError && /requiresGrad/.test(e.message),
    );
    assert.throws(() => (tensor([1], { dtype: "i32" }).requiresGrad = true), DTypeError);
    assert.throws(() => {
      x.mul(2).requiresGrad = false;
    }, (e: Error) => e instanceof DTypeError && /detach/.test(e.message));
    x.dispose();
  });

  await t.step("backward inside tidy frees the graph and leaves only the grads", () => {
    const w = tensor([[1, 2], [3, 4]]).requireGrad();
    const before = memory();
    for (let i = 0; i < 50; i++) {
      tidy(() => w.matmul(w.T).exp().mean().backward());
    }
    const after = memory();
    // the grad of w (one tensor) is the only thing that stays
    assert.equal(after.tensors - before.tensors, 1);
    w.dispose();
  });
});

Deno.test({
  name: "gradients through views and basic ops match PyTorch",
  ...needsTorch,
  async fn() {
    // Each case: inputs (some non-contiguous), our computation, and the same in torch.
    interface Case {
      name: string;
      inputs: Tensor[];
      ours: (...x: Tensor[]) => Tensor;
      torch: string; // python expression over x0, x1, ... (torch tensors requiring grad)
    }
    const f32 = (
      shape: number[],
      seed: number,
      layout: "contiguous" | "transposed" | "strided" = "contiguous",
    ) => makeTensor(shape, "f32", seed, layout);
    const cases: Case[] = [
      {
        name: "add/mul/div with broadcasting",
        inputs: [f32([3, 4], 1, "transposed"), f32([4], 2), f32([3, 1], 3)],
        ours: (a, b, c) => a.add(b).mul(c).div(b.abs().add(1)).sum(),
        torch: "((x0 + x1) * x2 / (x1.abs() + 1)).sum()",
      },
      {
        name: "matmul batched with broadcast",
        inputs: [f32([2, 3, 4], 4, "strided"), f32([4, 5], 5)],
        ours: (a, b) => a.matmul(b).exp().mean(),
        torch: "torch.matmul(x0, x1).exp().mean()",
      },
      {
        name: "matmul with 1-D operands",
        inputs: [f32([4], 6), f32([4, 3], 7), f32([3], 8)],
        ours: (v, m, u) => v.matmul(m).matmul(u),
        torch: "torch.matmul(torch.matmul(x0, x1), x2)",
      },
      {
        name: "reshape, permute, slice with steps, flip, select, expand",
        inputs: [f32([2, 3, 4], 9)],
        ours: (x) =>
          x.permute([2, 0, 1]).slice("::2", null, "1:").flip(1).reshape([2, -1]).select(0, 1)
            .unsqueeze(0).expand([3, -1]).exp().sum(),
        torch:
          "x0.permute(2, 0, 1)[::2, :, 1:].flip(1).reshape(2, -1)[1].unsqueeze(0).expand(3, -1).exp().sum()",
      },
      {
        name: "sum and mean over axes, neg, log, sub",
        inputs: [f32([3, 4], 10, "strided")],
        ours: (x) => x.abs().add(0.5).log().sum(0).sub(x.mean(1).neg().sum()).square().sum(),
        torch: "((x0.abs() + 0.5).log().sum(0) - (-(x0.mean(1))).sum()).square().sum()",
      },
    ];
    const refs = await numpy(cases.map((c) => ({
      setup: "import torch\n" +
        c.inputs.map((_, i) => `t${i} = torch.tensor(x${i}, requires_grad=True)`).join("\n") +
        "\n" +
        `loss = (lambda ${c.inputs.map((_, i) => `x${i}`).join(", ")}: ${c.torch})(${
          c.inputs.map((_, i) => `t${i}`).join(", ")
        })\nloss.backward()`,
      expr: `[loss.detach().numpy()] + [t${0}.grad.numpy()]` +
        c.inputs.slice(1).map((_, i) => ` + [t${i + 1}.grad.numpy()]`).join(""),
      arrays: Object.fromEntries(c.inputs.map((x, i) => [`x${i}`, x])),
    })));
    cases.forEach((c, k) => {
      const r = refs[k];
      assert.equal(r.error, undefined, `${c.name}: torch raised ${r.error}`);
      const leaves = c.inputs.map((x) => x.detach().requireGrad());
      const loss = c.ours(...leaves);
      loss.backward();
      // Values within f32 tolerance; gradients the same (rtol 1e-5, atol 1e-6).
      assertMatches(loss, r.results[0], { rtol: 1e-5, atol: 1e-6, dtype: false }, `${c.name} loss`);
      leaves.forEach((x, i) =>
        assertMatches(x.grad!, r.results[i + 1], { rtol: 1e-5, atol: 1e-6 }, `${c.name} grad ${i}`)
      );
    });
  },
});

Deno.test("add's inputs get their own .grad: gradients passed on as views are copied at the leaves", () => {
  const a = tensor([1, 2, 3]).requireGrad(), b = tensor([4, 5, 6]).requireGrad();
  const y = a.add(b).sum();
  y.backward();
  assert.notEqual(a.grad!.storage, b.grad!.storage);
  // Writing into one leaf's gradient (as gradient clipping does) leaves the other alone.
  copyInto(a.grad!, tensor([9, 9, 9]));
  assert.deepEqual(b.grad!.toArraySync(), [1, 1, 1]);
  for (const t of [a, b, y]) t.dispose();
});
