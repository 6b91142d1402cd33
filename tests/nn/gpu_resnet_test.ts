/**
 * A ResNet-18 training step (torchvision's layout at a reduced width for CI's software GPU:
 * stages of 8/16/32/64 channels; batch 2 of 64×64 images, int64 targets, cross-entropy, AdamW)
 * runs wholly on the WebGPU backend — every kernel a webgpu kernel, including BatchNorm's i64
 * `num_batches_tracked += 1` — and makes no GPU→CPU readback: the step is recorded without
 * waiting for the GPU once. Its losses, updated weights and running statistics equal the same
 * steps on the CPU, and so does the eval-mode forward pass (BatchNorm on running statistics).
 *
 * Why 64×64 and not CIFAR's 32×32: at 32×32 and batch 2 the last stage is 1×1, so its BatchNorms
 * normalize 2 values per channel (x̂ = ±1) and their input gradient is a cancellation that
 * amplifies rounding by 1/σ: two f32 summation orders (CPU, GPU) then give layer-3 weight
 * gradients 1e-2 apart. At 64×64 (8 values) they agree to 1e-5 (batch 4 at 32×32 does too).
 *
 * Tolerances: losses relative 1e-5; weights absolute 5e-5 after two AdamW steps of lr 1e-3 (each
 * step moves a weight by ~lr = 1e-3, so a wrong update fails; the GPU sums in other orders: 1.7e-5 seen); running statistics relative 1e-4;
 * eval logits absolute 1e-4; num_batches_tracked exact.
 */
import assert from "node:assert/strict";
import { nn, optim, randn, seed, type Tensor, tensor, tidy, traceKernels } from "../../mod.ts";
import { webgpuContext } from "../../backends/webgpu/mod.ts";
import { GPU_TEST } from "../helpers/webgpu.ts";

interface Run {
  losses: number[];
  state: Map<string, Float32Array | BigInt64Array>;
  evalLogits: Float32Array;
  backends: Set<string>;
  readbacks: number;
}

async function train(device: string): Promise<Run> {
  seed(11);
  const m = nn.models.resnet18({ numClasses: 10, baseWidth: 8 });
  const x = await randn([2, 3, 64, 64]).to(device);
  const y = await tensor([3, 7], { dtype: "i64" }).to(device);
  await m.to(device);
  const opt = new optim.AdamW(m.parameters(), { lr: 1e-3 });
  const lossFn = new nn.CrossEntropyLoss();
  const backends = new Set<string>();
  const results: Tensor[] = [];
  const ctx = webgpuContext();
  const before = ctx?.readbacks ?? 0;
  for (let s = 0; s < 2; s++) {
    const { result, trace } = traceKernels(() =>
      tidy(() => {
        opt.zeroGrad();
        const loss = lossFn.call(m.call(x), y);
        loss.backward();
        opt.step();
        return loss;
      })
    );
    for (const t of trace) backends.add(t.backend);
    results.push(result);
  }
  const readbacks = (ctx?.readbacks ?? 0) - before;
  const losses: number[] = [];
  for (const r of results) losses.push(Number((await r.data())[0]));
  if (ctx && device === "gpu") {
    // the probe sees reads: the two losses just read are two readbacks
    assert.equal(ctx.readbacks - before, 2, "the counter counts the loss reads");
  }
  m.eval();
  const logits = tidy(() => m.call(x));
  const evalLogits = await logits.data() as Float32Array;
  const state = new Map<string, Float32Array | BigInt64Array>();
  for (const [k, t] of Object.entries(m.stateDict())) {
    state.set(k, await t.data() as Float32Array | BigInt64Array);
  }
  return { losses, state, evalLogits, backends, readbacks };
}

Deno.test(
  {
    name: "a ResNet-18 training step runs on the GPU without readback and equals the CPU",
    ...GPU_TEST,
  },
  async () => {
    const gpu = await train("gpu");
    assert.deepEqual([...gpu.backends], ["webgpu"], "every kernel of the steps ran on webgpu");
    assert.equal(gpu.readbacks, 0, "two training steps read nothing back from the GPU");
    const cpu = await train("cpu");
    for (let s = 0; s < 2; s++) {
      const [g, c] = [gpu.losses[s], cpu.losses[s]];
      assert.ok(Math.abs(g - c) <= 1e-5 * Math.abs(c), `loss ${s}: gpu ${g}, cpu ${c}`);
    }
    assert.equal(cpu.state.size, gpu.state.size);
    let worst = 0;
    for (const [k, want] of cpu.state) {
      const got = gpu.state.get(k)!;
      if (want instanceof BigInt64Array) {
        assert.deepEqual(Array.from(got as BigInt64Array), Array.from(want), k);
        assert.equal(want[0], 2n, `${k} counts the two batches`);
        continue;
      }
      const stat = k.endsWith("running_mean") || k.endsWith("running_var");
      for (let i = 0; i < want.length; i++) {
        const d = Math.abs((got[i] as number) - want[i]);
        const tol = stat ? 1e-4 * Math.abs(want[i]) + 1e-6 : 5e-5;
        if (!stat) worst = Math.max(worst, d);
        assert.ok(d <= tol, `${k}[${i}]: gpu ${got[i]}, cpu ${want[i]}`);
      }
    }
    for (let i = 0; i < cpu.evalLogits.length; i++) {
      const [g, c] = [gpu.evalLogits[i], cpu.evalLogits[i]];
      assert.ok(Math.abs(g - c) <= 1e-4, `eval logit ${i}: gpu ${g}, cpu ${c}`);
    }
    console.log(`largest weight difference after 2 steps: ${worst.toExponential(2)}`);
  },
);
