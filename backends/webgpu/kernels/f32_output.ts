/**
 * f32 staging of a kernel's output: kernels that compute in f32 write an f32 stand-in and convert
 * it into an f16/bf16/integer output afterwards.
 *
 * @module
 */
import type { TensorView } from "../../../core/backend/plugin.ts";
import type { GpuContext } from "../context.ts";
import { copyPlan, runMap } from "./elementwise.ts";

/** Run `fn` on an f32 tensor standing for `out`, converting afterwards if `out` is not f32. */
export function viaF32(ctx: GpuContext, out: TensorView, fn: (o: TensorView) => void): void {
  if (out.dtype === "f32") {
    fn(out);
    return;
  }
  const tmp = ctx.scratchView(out.shape, "f32");
  try {
    fn(tmp);
    runMap(ctx, copyPlan("f32", out.dtype)!, [tmp], out);
  } finally {
    tmp.dispose();
  }
}
