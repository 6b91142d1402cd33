/**
 * The WASM plugin's kernel table. Each entry's `supports()` declines calls it cannot run in place
 * (dtypes it lacks, tensors outside the WASM heap), so the registry falls back to the scalar
 * backend for them.
 *
 * @module
 */
import type { KernelCall, KernelEntry, KernelTable } from "../../core/backend/plugin.ts";
import { isContiguous } from "../../core/shape.ts";
import { gemm, gemmRaw, inWasmHeap } from "./gemm.ts";
import { BINARY_OPS, runElementwise } from "../cpu/elementwise.ts";
import { address } from "../cpu/jobs.ts";
import { convertCopy } from "./convert.ts";
import { elementwiseKernels } from "./ew.ts";
import { reduceKernels } from "./reduce.ts";
import { convKernels } from "./conv.ts";
import { trainKernels } from "./train.ts";
import { quantize } from "./quant.ts";

import { qlinearKernels } from "./qlinear.ts";

/**
 * `matmul` (contract of core/ops/matmul.ts): inputs a (...batch, m, k) and b (...batch, k, n)
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

/**
 * `linear` (contract of core/ops/fused.ts): x (M, in) · weight (out, in)ᵀ through the packed
 * GEMM (Wᵀ read through W's strides), then the bias added in place by the elementwise kernel.
 */
const linear: KernelEntry = {
  supports(call: KernelCall): boolean {
    const [x, w, b] = call.inputs, [out] = call.outputs;
    if (!x || !w || !out || x.ndim !== 2 || w.ndim !== 2) return false;
    const d = out.dtype;
    return (d === "f32" || d === "f64") &&
      [x, w, out, ...(b ? [b] : [])].every((t) =>
        t.dtype === d && inWasmHeap(t) && t.size < 2 ** 31
      ) && out.isContiguous;
  },
  run(call: KernelCall): void {
    const [x, w, b] = call.inputs, [out] = call.outputs;
    const [M, K] = x.shape, N = w.shape[0];
    const es = out.dtype === "f64" ? 8 : 4;
    gemmRaw({
      es,
      m: M,
      n: N,
      k: K,
      nbatch: 1,
      rsa: x.strides[0],
      csa: x.strides[1],
      rsb: w.strides[1],
      csb: w.strides[0],
      a: address(x),
      b: address(w),
      c: address(out),
      aoffs: null,
      boffs: null,
    });
    if (!b) return;
    const o = address(out);
    runElementwise(
      "binary",
      BINARY_OPS.add,
      out.dtype as "f32" | "f64",
      [M, N],
      [
        o,
        o,
        address(b),
      ],
      [[N, 1], [N, 1], [0, b.strides[0]]],
      false,
    );
  },
};

/** Kernels by op name. */
export const kernels: KernelTable = {
  matmul,
  linear,
  copy: convertCopy,
  ...elementwiseKernels,
  ...reduceKernels,
  ...convKernels,
  ...trainKernels,
  quantize,

  ...qlinearKernels,
};
