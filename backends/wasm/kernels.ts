/**
 * The WASM plugin's kernel table. Each entry's `supports()` declines calls it cannot run in place
 * (dtypes it lacks, tensors outside the WASM heap), so the registry falls back to the scalar
 * backend for them.
 *
 * @module
 */
import type { KernelCall, KernelEntry } from "../backend.ts";
import { isContiguous } from "../../core/shape.ts";
import { gemm, inWasmHeap } from "./gemm.ts";
import { convertCopy } from "./convert.ts";
import { elementwiseKernels } from "./ew.ts";
import { reduceKernels } from "./reduce.ts";
import { convKernels } from "./conv.ts";
import { trainKernels } from "./train.ts";

/**
 * `matmul` (contract of core/ops/linalg.ts): inputs a (...batch, m, k) and b (...batch, k, n)
 * with equal batch shapes (broadcast batch axes are stride-0 views), output (...batch, m, n)
 * contiguous in the op's result dtype. Runs f32 @ f32 → f32 and f64 @ f64 → f64.
 */
const matmul: KernelEntry = {
  supports(call: KernelCall): boolean {
    const [a, b] = call.inputs;
    const [out] = call.outputs;
    if (!a || !b || !out) return false;
    const d = out.dtype;
    return (d === "f32" || d === "f64") && a.dtype === d && b.dtype === d && a.ndim >= 2 &&
      isContiguous(out.shape, out.strides) && inWasmHeap(a) && inWasmHeap(b) && inWasmHeap(out);
  },
  run(call: KernelCall): void {
    gemm(call.inputs[0], call.inputs[1], call.outputs[0]);
  },
};

/** Kernels by op name. */
export const kernels: Record<string, KernelEntry> = {
  matmul,
  copy: convertCopy,
  ...elementwiseKernels,
  ...reduceKernels,
  ...convKernels,
  ...trainKernels,
};
