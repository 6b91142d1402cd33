/**
 * The fused Adam/AdamW step (`adamStep`) on the WebGPU backend against the scalar reference on the
 * same inputs: every decay mode × AMSGrad × maximize, lengths around a workgroup and across
 * several. Tolerance per element: 2e-6 relative plus 3e-8 absolute (the same f32 operations in
 * the same order, but GPU sqrt need not be correctly rounded and NVIDIA's driver fuses multiply-adds:
 * `m + (1 − β1)(g − m)` with g = grad + wd·p contracted gave 2e-9 off an m of 4.6e-4, a few ulp
 * of the inputs (≤ 1) after cancellation); the moments' flush to zero is checked exactly.
 */
import assert from "node:assert/strict";
import {
  type AdamStepAttrs,
  fromTyped,
  type KernelFn,
  scalarBackend,
  type Tensor,
  traceKernels,
} from "../../mod.ts";
import { adamStep } from "../../mod.ts";
import { GPU_TEST } from "../helpers/webgpu.ts";

function rand(n: number, seed: number, positive = false): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32 * 2 - 1;
    out[i] = positive ? Math.abs(u) * 0.1 : u;
  }
  return out;
}

Deno.test({ name: "webgpu: adamStep equals the scalar kernel", ...GPU_TEST }, async () => {
  for (const n of [1, 257, 5001]) {
    for (const decay of ["none", "l2", "decoupled"] as const) {
      for (const amsgrad of [false, true]) {
        for (const maximize of [false, true]) {
          const step = 3, lr = 0.01, beta1 = 0.85, beta2 = 0.995;
          const attrs: AdamStepAttrs = {
            lr,
            weightDecay: decay === "none" ? 0 : 0.05,
            decay,
            beta1,
            beta2,
            eps: 1e-6,
            stepSize: lr / (1 - beta1 ** step),
            bc2Sqrt: Math.sqrt(1 - beta2 ** step),
            maximize,
          };
          const init = [rand(n, n + 1), rand(n, n + 2), rand(n, n + 3, true), rand(n, n + 4, true)];
          const g = rand(n, n + 5);
          // element 0: p = g = 0 and m just above f32's smallest normal, so β1·m is subnormal
          init[0][0] = 0, g[0] = 0, init[1][0] = 1.2e-38;
          const cpu = init.map((a) => fromTyped(a.slice(), [n], "f32"));
          const outsC = amsgrad ? cpu : cpu.slice(0, 3);
          (scalarBackend.kernels.adamStep as KernelFn)({
            op: "adamStep",
            inputs: [fromTyped(g, [n], "f32")],
            outputs: outsC,
            attrs,
          });
          const gpu: Tensor[] = [];
          for (const a of init) gpu.push(await fromTyped(a.slice(), [n], "f32").to("gpu"));
          const gg = await fromTyped(g, [n], "f32").to("gpu");
          const { result: fused, trace } = traceKernels(() =>
            adamStep(gpu[0], gg, gpu[1], gpu[2], amsgrad ? gpu[3] : null, attrs)
          );
          assert.ok(fused, "the GPU takes the fused step");
          assert.deepEqual(trace.map((t) => t.backend), ["webgpu"]);
          const names = ["p", "m", "v", "vmax"];
          for (let j = 0; j < (amsgrad ? 4 : 3); j++) {
            const want = outsC[j].dataSync() as Float32Array;
            const got = await gpu[j].data() as Float32Array;
            for (let i = 0; i < n; i++) {
              const tol = 2e-6 * Math.abs(want[i]) + 3e-8;
              assert.ok(
                Math.abs(got[i] - want[i]) <= tol,
                `n=${n} ${decay} ams=${amsgrad} max=${maximize} ${names[j]}[${i}]: ` +
                  `gpu ${got[i]}, cpu ${want[i]}`,
              );
            }
            if (j === 1) assert.ok(want[0] === 0 && got[0] === 0, `flushed moment: ${got[0]}`);
          }
        }
      }
    }
  }
});
