/**
 * A small CNN's training step (conv, relu, adaptive average pooling, linear, cross-entropy,
 * backward, AdamW) runs entirely on the WebGPU backend — every kernel of the step is a webgpu
 * kernel (no op falls back to the CPU or needs f64 on the GPU) — and its loss, gradients and
 * updated weights equal the same step on the CPU. Comparisons of integer tensors with JS numbers
 * (the loss's `ignoreIndex` mask) stay in the tensor's dtype, as NumPy's results are.
 */
import assert from "node:assert/strict";
import { nn, optim, randn, seed, tensor, tidy, traceKernels } from "../../mod.ts";
import type { Tensor } from "../../mod.ts";
import { GPU_TEST } from "../helpers/webgpu.ts";

const opts = GPU_TEST;

Deno.test("comparisons of integer tensors with numbers follow NumPy (in or out of range)", () => {
  const eq = (t: Tensor) => Array.from(t.dataSync() as ArrayLike<number | boolean>).map(Boolean);
  const i32 = tensor([1, -100, 3], { dtype: "i32" });
  assert.deepEqual(eq(i32.ne(-100)), [true, false, true]);
  assert.deepEqual(eq(i32.lt(2.5)), [true, true, false]); // a fraction compares exactly too
  assert.deepEqual(eq(tensor([255, 0], { dtype: "u8" }).eq(-1)), [false, false]); // out of range
  assert.deepEqual(eq(tensor([255, 0], { dtype: "u8" }).lt(256)), [true, true]);
  assert.deepEqual(eq(tensor([true, false]).eq(5)), [false, false]); // np.array([True]) == 5
  assert.deepEqual(eq(tensor([true, false]).eq(1)), [true, false]);
  const big = tensor([2n ** 53n + 1n, 2n ** 53n], { dtype: "i64" });
  assert.deepEqual(eq(big.eq(2 ** 53)), [false, true]); // exact above 2^53
});

function net(): nn.Sequential {
  seed(7);
  return new nn.Sequential(
    new nn.Conv2d(3, 4, 3, { padding: 1 }),
    new nn.ReLU(),
    new nn.AdaptiveAvgPool2d([2, 2]),
    new nn.Flatten(),
    new nn.Linear(16, 5),
  );
}

Deno.test(
  { name: "a CNN training step runs wholly on the GPU and equals the CPU step", ...opts },
  async () => {
    seed(3);
    const x = randn([2, 3, 6, 6]);
    const y = tensor([1, -100], { dtype: "i32" }); // one position ignored
    const steps = async (device: string) => {
      const m = net();
      await m.to(device);
      const xd = await x.to(device), yd = await y.to(device);
      const opt = new optim.AdamW(m.parameters(), { lr: 0.05 });
      const lossFn = new nn.CrossEntropyLoss();
      const losses: number[] = [];
      const backendsSeen = new Set<string>();
      for (let s = 0; s < 3; s++) {
        const { result, trace } = traceKernels(() =>
          tidy(() => {
            opt.zeroGrad();
            const loss = lossFn.call(m.call(xd), yd);
            loss.backward();
            opt.step();
            return loss;
          })
        );
        for (const t of trace) backendsSeen.add(t.backend);
        losses.push(Number((await result.data())[0]));
        result.dispose();
      }
      const w = await m.parameters()[0].data();
      return { losses, w: Array.from(w as Float32Array), backendsSeen };
    };
    const gpu = await steps("gpu");
    assert.deepEqual([...gpu.backendsSeen], ["webgpu"], "every kernel of the step ran on webgpu");
    const cpu = await steps("cpu");
    for (let s = 0; s < 3; s++) {
      assert.ok(
        Math.abs(gpu.losses[s] - cpu.losses[s]) <= 1e-5 * Math.abs(cpu.losses[s]) + 1e-6,
        `loss ${s}: ${gpu.losses[s]} vs ${cpu.losses[s]}`,
      );
    }
    for (let i = 0; i < cpu.w.length; i++) {
      assert.ok(
        Math.abs(gpu.w[i] - cpu.w[i]) <= 1e-5,
        `conv weight ${i}: ${gpu.w[i]} vs ${cpu.w[i]}`,
      );
    }
  },
);
