/**
 * f16 ↔ f32 and bf16 ↔ f32 conversion of contiguous tensors in the WASM heap, as a `copy` kernel
 * (the primitive behind `astype`/`contiguous`) that declines every other call.
 *
 * @module
 */
import type { KernelCall } from "../backend.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { HostStorage } from "../host.ts";
import { isContiguous } from "../../core/shape.ts";
import { inWasmHeap } from "./gemm.ts";
import { type KernelExports, loadRuntime } from "./runtime.ts";

type Conv = "f16_to_f32" | "f32_to_f16" | "bf16_to_f32" | "f32_to_bf16";

const CONVERSIONS: Record<string, Conv> = {
  "f16>f32": "f16_to_f32",
  "f32>f16": "f32_to_f16",
  "bf16>f32": "bf16_to_f32",
  "f32>bf16": "f32_to_bf16",
};

function conversion(call: KernelCall): Conv | undefined {
  const [src] = call.inputs;
  const [dst] = call.outputs;
  if (!src || !dst) return undefined;
  const conv = CONVERSIONS[`${src.dtype}>${dst.dtype}`];
  if (!conv) return undefined;
  const same = src.ndim === dst.ndim && src.shape.every((d, i) => d === dst.shape[i]);
  return same && isContiguous(src.shape, src.strides) && isContiguous(dst.shape, dst.strides)
    ? conv
    : undefined;
}

function address(t: Tensor, bytes: number): number {
  return (t.storage as HostStorage).byteOffset + t.offset * bytes;
}

const BYTES = { f32: 4, f16: 2, bf16: 2 } as Record<string, number>;

/** The `copy` kernel entry: contiguous same-shape f16/bf16 ↔ f32 in the WASM heap. */
export const convertCopy = {
  supports(call: KernelCall): boolean {
    return conversion(call) !== undefined && inWasmHeap(call.inputs[0]) &&
      inWasmHeap(call.outputs[0]);
  },
  run(call: KernelCall): void {
    const [src] = call.inputs;
    const [dst] = call.outputs;
    const fn = conversion(call)!;
    const ex: KernelExports = loadRuntime().exports;
    ex[fn](address(src, BYTES[src.dtype]), address(dst, BYTES[dst.dtype]), dst.size);
  },
};
