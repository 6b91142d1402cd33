/**
 * Fused optimizer step on the GPU: `adamStep`, one Adam/AdamW update of an f32 parameter and its
 * moments in place, one thread per element (one dispatch per parameter instead of ~10
 * elementwise ops). The contract is the scalar kernel's (backends/scalar/kernels/optim.ts): the
 * same operations in the same order, each rounded to f32, new moments below f32's smallest normal
 * stored as zero. GPU `sqrt` is not required to be correctly rounded and drivers may contract a
 * multiply and an add into an FMA, so an update can differ from the CPU's in its last bits.
 *
 * @module
 */
import { adamScalars, type AdamStepAttrs } from "../../../core/backend/attrs.ts";
import type { KernelCall, OpKernelTable } from "../../../core/backend/plugin.ts";
import type { GpuContext } from "../context.ts";
import { decl, grid, off, prmDecl, stOf, THREAD, TID, WG } from "./wgsl.ts";

/** Kernel source; metadata: [n, offsets of grad, p, m, v, vmax, 8 scalars (f32), maximize, mode]. */
function adamCode(amsgrad: boolean, access: string): string {
  const names = amsgrad ? ["gr", "p", "m", "v", "vx"] : ["gr", "p", "m", "v"];
  return `
${names.map((n, j) => decl(n, j, access[j])).join("\n")}
${prmDecl(names.length)}
fn ftz(x: f32) -> f32 { return select(x, 0.0, (bitcast<u32>(x) & 0x7fffffffu) < 0x00800000u); }
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
  let i = i32(${TID});
  if (i >= prm[0]) { return; }
  let decay = bitcast<f32>(prm[6]); let wd = bitcast<f32>(prm[7]); let c1 = bitcast<f32>(prm[8]);
  let b2 = bitcast<f32>(prm[9]); let c2 = bitcast<f32>(prm[10]); let eps = bitcast<f32>(prm[11]);
  let step = bitcast<f32>(prm[12]); let bc2s = bitcast<f32>(prm[13]);
  let mode = prm[15];
  var g = bitcast<f32>(gr[prm[1] + i]);
  if (prm[14] != 0) { g = -g; }
  var pi = bitcast<f32>(p[prm[2] + i]);
  if (mode == 2) { pi = pi * decay; } else if (mode == 1) { g = g + wd * pi; }
  let m0 = bitcast<f32>(m[prm[3] + i]);
  let mi = ftz(m0 + c1 * (g - m0));
  var vi = ftz(b2 * bitcast<f32>(v[prm[4] + i]) + c2 * (g * g));
  m[prm[3] + i] = bitcast<u32>(mi);
  v[prm[4] + i] = bitcast<u32>(vi);
${
    amsgrad
      ? `  let w = bitcast<f32>(vx[prm[5] + i]);
  if (w > vi || (bitcast<u32>(w) & 0x7fffffffu) > 0x7f800000u) { vi = w; }
  vx[prm[5] + i] = bitcast<u32>(vi);`
      : ""
  }
  p[prm[2] + i] = bitcast<u32>(pi + step * (mi / (sqrt(vi) / bc2s + eps)));
}`;
}

const MODES = { none: 0, l2: 1, decoupled: 2 };

/** The fused optimizer kernels bound to a context (f32, contiguous operands: see adamStep). */
export function optimKernels(ctx: GpuContext): OpKernelTable {
  return {
    adamStep: {
      supports: (call: KernelCall<AdamStepAttrs>) =>
        call.outputs[0].dtype === "f32" &&
        call.outputs[0].storage.byteLength <= ctx.device.limits.maxStorageBufferBindingSize,
      run: (call: KernelCall<AdamStepAttrs>) => {
        const [grad] = call.inputs;
        const outs = call.outputs;
        const n = outs[0].size;
        if (n === 0) return;
        const ins = [ctx.input(stOf(grad))];
        const ob = outs.map((t) => ctx.output(stOf(t), false));
        const access = ctx.access(ins, ob);
        const amsgrad = outs.length === 4;
        const k = ctx.kernel(`adamStep:${amsgrad}`, access, () => adamCode(amsgrad, access));
        const o = ctx.slot(), M = ctx.mi, F = ctx.mf;
        M[o] = n;
        M[o + 1] = off(grad);
        for (let j = 0; j < 4; j++) M[o + 2 + j] = outs[j] ? off(outs[j]) : 0;
        adamScalars(call.attrs).forEach((s, j) => F[o + 6 + j] = s);
        M[o + 14] = call.attrs.maximize ? 1 : 0;
        M[o + 15] = MODES[call.attrs.decay];
        const [gx, gy] = grid(n);
        ctx.run(k, [...ins, ...ob], gx, gy);
      },
    },
  };
}
