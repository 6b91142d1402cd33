/**
 * The `copy` kernel (the primitive behind `contiguous`, `astype`, `copyInto`: concat, pad,
 * tiling, the conv gradients' views) on tensors in the WASM heap (src/copy.c): the input,
 * broadcast to the output's shape, written through any strides of both sides (negative,
 * broadcast stride 0), as a raw copy when the dtypes are equal (any dtype, by element width) or
 * converted: f32 ↔ f64, f16 ↔ f32, bf16 ↔ f32, i32 → f32/f64, f32/f64 → i32, bool/u8 → f32/f64.
 * Results equal the scalar backend's bit for bit (narrowing rounds to nearest even; float → i32
 * truncates and wraps like JavaScript's ToInt32). Other conversions are declined.
 *
 * Axes are merged as for the elementwise kernels (at most 8 remain, else declined); calls from
 * 256K elements are spread over the worker pool.
 *
 * @module
 */
import type { KernelCall, KernelEntry } from "../../core/backend/plugin.ts";
import { elementBytes } from "../../core/dtype.ts";
import { broadcastStrides } from "../../core/shape.ts";
import { inWasmHeap } from "./gemm.ts";
import { mergeAxes } from "../cpu/elementwise.ts";
import { address } from "../cpu/jobs.ts";
import { runCopy } from "../cpu/copy.ts";

/** Conversion codes of src/copy.c, by "src>dst" (raw copies are chosen by element width). */
const CONVERSIONS: Record<string, number> = {
  "f32>f64": 4,
  "f64>f32": 5,
  "f16>f32": 6,
  "f32>f16": 7,
  "bf16>f32": 8,
  "f32>bf16": 9,
  "i32>f32": 10,
  "i32>f64": 11,
  "f32>i32": 12,
  "f64>i32": 13,
  "u8>f32": 14,
  "u8>f64": 15,
  "bool>f32": 14,
  "bool>f64": 15,
};
const RAW: Record<number, number> = { 1: 0, 2: 1, 4: 2, 8: 3 };

function code(call: KernelCall): number | undefined {
  const [src] = call.inputs, [dst] = call.outputs;
  if (!src || !dst) return undefined;
  if (src.dtype === dst.dtype) return RAW[elementBytes(src.dtype)];
  return CONVERSIONS[`${src.dtype}>${dst.dtype}`];
}

function geometry(call: KernelCall) {
  const [src] = call.inputs, [dst] = call.outputs;
  return mergeAxes(dst.shape, [dst.strides, broadcastStrides(src.shape, src.strides, dst.shape)]);
}

/** The `copy` kernel entry. */
export const convertCopy: KernelEntry = {
  supports(call: KernelCall): boolean {
    const [src] = call.inputs, [dst] = call.outputs;
    return code(call) !== undefined && dst.size < 2 ** 31 && inWasmHeap(src) &&
      inWasmHeap(dst) && geometry(call) !== null;
  },
  run(call: KernelCall): void {
    const [src] = call.inputs, [dst] = call.outputs;
    if (dst.size === 0) return;
    const m = geometry(call)!;
    runCopy(code(call)!, m.dims, address(dst), m.st[0], address(src), m.st[1]);
  },
};
